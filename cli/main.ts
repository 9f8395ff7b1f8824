#!/usr/bin/env node
// The `rollout` command (the package's bin runs its compiled copy, dist/cli/main.js).
import { runProgram } from "./program.ts";

await runProgram("rollout", process.argv);
