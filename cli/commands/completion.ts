import { Argument, Command, Option } from "commander";
import { EXIT } from "../exit-codes.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** What a completion script needs of one command: its flags, and the values of flags that have choices. */
interface CommandWords {
  name: string;
  summary: string;
  flags: {
    long?: string;
    short?: string;
    description: string;
    /** The flag is followed by a value (`--timeout 30m`). */
    takesValue: boolean;
    choices?: readonly string[];
  }[];
  /** The words its first argument can be: subcommands (`sandbox api`) or choices (`completion bash`). */
  subcommands: string[];
}

function wordsOf(command: Command): CommandWords {
  return {
    name: command.name(),
    summary: command.summary() || command.description(),
    flags: [...command.options, helpFlag]
      .filter((o) => !o.hidden)
      .map((o) => ({
        ...(o.long ? { long: o.long } : {}),
        ...(o.short ? { short: o.short } : {}),
        description: o.description,
        takesValue: o.required || o.optional,
        ...(o.argChoices ? { choices: o.argChoices } : {}),
      })),
    subcommands: [
      ...command.commands.map((c) => c.name()).filter((n) => n !== "help"),
      ...(command.registeredArguments[0]?.argChoices ?? []),
    ],
  };
}

const helpFlag = new Option("-h, --help", "display help for command");

/** Single-quoted for bash and zsh: a quote inside ends the quoting, adds an escaped one, and starts again. */
const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
/** Single-quoted for fish, where a backslash escapes a quote (and itself) inside single quotes. */
const fishQuote = (text: string) => `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;

function bash(program: string, commands: CommandWords[]): string {
  const fn = `_${program.replace(/\W/g, "_")}_completion`;
  const cases = commands.map((c) => {
    const flags = c.flags.flatMap((f) => [f.long, f.short].filter(Boolean)).join(" ");
    const values = c.flags
      .filter((f) => f.choices)
      .map(
        (f) =>
          `        ${[f.long, f.short].filter(Boolean).join("|")}) words=${quote(f.choices!.join(" "))} ;;`,
      )
      .join("\n");
    return [
      `    ${c.name})`,
      `      flags=${quote(flags)}`,
      `      subcommands=${quote(c.subcommands.join(" "))}`,
      `      case "$prev" in`,
      ...(values ? [values] : []),
      `      esac ;;`,
    ].join("\n");
  });
  return `# bash completion for ${program}: source it, or save it as
# /etc/bash_completion.d/${program} (\`${program} completion bash > ...\`)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local flags="" subcommands="" words=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${quote(commands.map((c) => c.name).join(" "))} -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join("\n")}
  esac
  if [ -n "$words" ]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$subcommands" ]; then
    COMPREPLY=($(compgen -W "$subcommands" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o default -F ${fn} ${program}
`;
}

function zsh(program: string, commands: CommandWords[]): string {
  // in an _arguments spec, brackets and colons are syntax: escaped with a backslash
  const escaped = (text: string) => text.replace(/[[\]:\\]/g, "\\$&");
  const cases = commands.map((c) => {
    const specs = c.flags.map((f) => {
      const values = f.choices ? `:value:(${f.choices.join(" ")})` : f.takesValue ? ":value:" : "";
      const spec = quote(`[${escaped(f.description)}]${values}`);
      return f.short && f.long ? `{${f.short},${f.long}}${spec}` : `${f.long ?? f.short}${spec}`;
    });
    // the first argument's words (`sandbox api`, `completion bash`), as bash and fish offer them
    const first = c.subcommands.length ? [quote(`1:argument:(${c.subcommands.join(" ")})`)] : [];
    return `    ${c.name}) _arguments ${[...specs, ...first, "'*:file:_files'"].join(" ")} ;;`;
  });
  return `#compdef ${program}
# zsh completion for ${program}: save it as _${program} in a directory of $fpath, or \`source <(${program} completion zsh)\`
_${program}() {
  local -a commands
  commands=(
${commands.map((c) => `    ${quote(`${c.name}:${escaped(c.summary)}`)}`).join("\n")}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  (( CURRENT-- )); shift words
  case "$words[1]" in
${cases.join("\n")}
  esac
}
compdef _${program} ${program}
`;
}

function fish(program: string, commands: CommandWords[]): string {
  const names = commands.map((c) => c.name).join(" ");
  const lines = commands.map(
    (c) =>
      `complete -c ${program} -n "not __fish_seen_subcommand_from ${names}" -f -a ${c.name} -d ${fishQuote(c.summary)}`,
  );
  for (const c of commands) {
    const when = `-n "__fish_seen_subcommand_from ${c.name}"`;
    for (const sub of c.subcommands) lines.push(`complete -c ${program} ${when} -f -a ${sub}`);
    for (const f of c.flags) {
      const short = f.short ? ` -s ${f.short.replace(/^-/, "")}` : "";
      const long = f.long ? ` -l ${f.long.replace(/^--/, "")}` : "";
      const values = f.choices ? ` -x -a ${fishQuote(f.choices.join(" "))}` : f.takesValue ? " -r" : "";
      lines.push(`complete -c ${program} ${when}${short}${long}${values} -d ${fishQuote(f.description)}`);
    }
  }
  return `# fish completion for ${program}: save it as ~/.config/fish/completions/${program}.fish\n${lines.join("\n")}\n`;
}

const SCRIPTS: Record<Shell, (program: string, commands: CommandWords[]) => string> = { bash, zsh, fish };

/** The completion script for `shell`, from the commands of the whole (loaded) program. */
export function completionScript(shell: Shell, program: Command): string {
  const commands = program.commands.filter((c) => c.name() !== "help").map(wordsOf);
  return SCRIPTS[shell](program.name(), commands);
}

/** `rollout completion bash|zsh|fish`: prints the script; the README says where to put it. */
export function completionCommand(): Command {
  return new Command("completion")
    .description("print a shell completion script: bash, zsh or fish (see the README for where to put it)")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices([...SHELLS]))
    .action(async (shell: Shell) => {
      // every command's flags: this loads them all, once, when the script is made
      const { buildProgram } = await import("../program.ts");
      const program = await buildProgram("rollout", [], { all: true });
      process.stdout.write(completionScript(shell, program));
      process.exitCode = EXIT.ok;
    });
}
