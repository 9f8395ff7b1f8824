#!/usr/bin/env node
// The development entry: runs the TypeScript sources through tsx (a dev dependency), so the tests and
// `npm run sandbox` need no build step. The package's `rollout` bin is the compiled dist/cli/main.js.
import { register } from "tsx/esm/api";

register();
await import("../main.ts");
