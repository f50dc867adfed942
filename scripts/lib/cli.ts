/**
 * The command line of every `npm run X` tool: one parser, one usage text, one rule for `--help`
 * (usage on stdout, exit 0, no work) and for a bad option (message and usage on stderr, exit 2).
 */

export interface OptionSpec {
  /** Long name without dashes: `stage` for `--stage`. */
  readonly name: string;
  /** Placeholder of the value (`NAME`), or absent for a switch that takes none. */
  readonly value?: string;
  /** One line: what it does and its default. */
  readonly help: string;
  /** A one-letter alias (`c` for `-c`). */
  readonly short?: string;
  /** May be given more than once; the values are collected in order. */
  readonly repeatable?: boolean;
}

export interface CliSpec {
  /** How the user runs it: `npm run demo`. */
  readonly command: string;
  /** What it does, in a sentence or two. */
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  /** Lines after the options: examples, environment variables. */
  readonly notes?: readonly string[];
}

/** Values by option name: a string (or strings, if repeatable) for valued options, true for switches. */
export type ParsedOptions = Record<string, string | string[] | true | undefined>;

/** A bad command line: what was wrong; the usage is printed with it. */
export class UsageError extends Error {
  readonly name = 'UsageError';
}

/** Where a tool prints; tests pass their own to read what it said. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

const HELP: OptionSpec = { name: 'help', short: 'h', help: 'Print this help and exit.' };

export function usage(spec: CliSpec): string {
  const options = [...spec.options, HELP];
  const left = options.map(
    (o) =>
      `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.value ? (o.short ? ` ${o.value}` : `=${o.value}`) : ''}`
  );
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return [
    `Usage: ${spec.command}${spec.options.length > 0 ? ' -- [options]' : ''}`,
    '',
    spec.summary,
    '',
    'Options:',
    ...options.map((o, i) => `  ${left[i].padEnd(width)}${o.help}`),
    ...(spec.notes && spec.notes.length > 0 ? ['', ...spec.notes] : []),
  ].join('\n');
}

/**
 * `--name value`, `--name=value`, `-c value`, `-c=value`, `--switch`; throws UsageError for an
 * unknown option, a missing value, a value given to a switch, or a stray argument.
 */
export function parseOptions(spec: CliSpec, argv: readonly string[]): ParsedOptions {
  const options = [...spec.options, HELP];
  const parsed: ParsedOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.split(/=(.*)/s, 2);
    const option = options.find((o) =>
      flag.startsWith('--') ? flag === `--${o.name}` : o.short && flag === `-${o.short}`
    );
    if (!option) {
      throw new UsageError(
        arg.startsWith('-') ? `Unknown option ${flag}.` : `Unexpected argument "${arg}".`
      );
    }
    if (!option.value) {
      if (inline !== undefined) {
        throw new UsageError(`${flag} takes no value.`);
      }
      parsed[option.name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || value === '' || (inline === undefined && value.startsWith('-'))) {
      throw new UsageError(`${flag} needs a value: ${flag} ${option.value}.`);
    }
    if (option.repeatable) {
      parsed[option.name] = [...((parsed[option.name] as string[] | undefined) ?? []), value];
    } else {
      parsed[option.name] = value;
    }
  }
  return parsed;
}

/** A whole number option, or `fallback`; a UsageError names the option otherwise. */
export function wholeNumber(options: ParsedOptions, name: string, fallback: number): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) < 1) {
    throw new UsageError(`--${name} must be a whole number of 1 or more, got "${String(value)}".`);
  }
  return Number(value);
}

/**
 * Parses `argv` and runs `work` with the options, or answers `--help` (exit 0) and bad options
 * (exit 2) without calling it. Resolves with the exit code: `work`'s, else 0.
 */
export async function runCli(
  spec: CliSpec,
  argv: readonly string[],
  work: (options: ParsedOptions) => Promise<number | void>,
  io: Io = processIo
): Promise<number> {
  try {
    const options = parseOptions(spec, argv);
    if (options.help) {
      io.out(usage(spec));
      return 0;
    }
    return (await work(options)) ?? 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`${error.message}\n\n${usage(spec)}`);
    return 2;
  }
}

/**
 * Runs a tool's `main` from the command line: its exit code, or for an error one line when the
 * error explains itself (`explained`: its name is listed, or 'all'), else the stack, which is a
 * bug to report.
 */
export function exitWith(
  tool: string,
  run: Promise<number>,
  explained: readonly string[] | 'all' = ['PrerequisiteError']
): void {
  // `npm run demo -- --help | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  run.then(
    (code) => {
      process.exitCode = code;
    },
    (error: Error) => {
      const told = explained === 'all' || explained.includes(error.name);
      console.error(`${tool} failed: ${told ? error.message : (error.stack ?? error.message)}`);
      process.exitCode = 1;
    }
  );
}
