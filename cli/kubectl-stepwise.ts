#!/usr/bin/env node
// The same CLI as a kubectl plugin: kubectl runs `kubectl-stepwise` from $PATH for `kubectl stepwise ...`.
import { runProgram } from "./program.ts";

await runProgram("kubectl stepwise", process.argv);
