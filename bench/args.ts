// The benchmarks' command-line flags, read where a script needs them. A value is `--name=value` or
// `--name value`; a switch is `--name` alone. The first occurrence wins (`allArgs` reads every one).
// A malformed number stops the script before any work, naming the flag: a typo must not quietly run
// a bench of many minutes with the default instead.

const given = (argv: readonly string[]) => argv.slice(2);

/** Every value given for `--name`, in order. */
export function allArgs(name: string, argv: readonly string[] = process.argv): string[] {
  const args = given(argv);
  const values: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith(`--${name}=`)) values.push(args[i].slice(name.length + 3));
    else if (args[i] === `--${name}`) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('--')) throw new Error(`--${name} needs a value`);
      values.push(next);
      i++;
    }
  }
  return values;
}

/** `--name`'s value, or `fallback` when the flag is absent. */
export function stringArg(name: string, fallback: string, argv?: readonly string[]): string;
export function stringArg(name: string, fallback?: undefined, argv?: readonly string[]): string | undefined;
export function stringArg(name: string, fallback?: string, argv: readonly string[] = process.argv) {
  return allArgs(name, argv)[0] ?? fallback;
}

/** `item` of `--name=text` as a number: the whole value, or one of a list's. */
function toNumber(name: string, text: string, item = text): number {
  const n = Number(item);
  if (item.trim() === '' || !Number.isFinite(n)) {
    const what = item === text ? 'not a number' : `${JSON.stringify(item)} is not a number`;
    throw new Error(`--${name}=${text}: ${what}`);
  }
  return n;
}

/** `--name`'s value as a number, or `fallback` when the flag is absent. */
export function numberArg(name: string, fallback: number, argv?: readonly string[]): number;
export function numberArg(name: string, fallback?: undefined, argv?: readonly string[]): number | undefined;
export function numberArg(name: string, fallback?: number, argv: readonly string[] = process.argv) {
  const text = stringArg(name, undefined, argv);
  return text === undefined ? fallback : toNumber(name, text);
}

/** `--name`'s comma-separated values, or `fallback` when the flag is absent. */
export function listArg(
  name: string,
  fallback: readonly string[],
  argv: readonly string[] = process.argv,
): string[] {
  return stringArg(name, undefined, argv)?.split(',') ?? [...fallback];
}

/** `--name`'s comma-separated numbers, none for `--name=`, or `fallback` when the flag is absent. */
export function numberListArg(
  name: string,
  fallback: readonly number[],
  argv: readonly string[] = process.argv,
): number[] {
  const text = stringArg(name, undefined, argv);
  if (text === undefined) return [...fallback];
  return text === '' ? [] : text.split(',').map((item) => toNumber(name, text, item));
}

/** Whether the switch `--name` is given. */
export function flagArg(name: string, argv: readonly string[] = process.argv): boolean {
  return given(argv).includes(`--${name}`);
}

/**
 * The arguments that are neither flags nor flags' values: `valueFlags` names every flag of the script
 * that takes a value (a value given as `--name value` looks like a positional argument otherwise).
 */
export function positionalArgs(
  valueFlags: readonly string[],
  argv: readonly string[] = process.argv,
): string[] {
  const args = given(argv);
  return args.filter(
    (a, i) => !a.startsWith('--') && !(i > 0 && valueFlags.some((name) => args[i - 1] === `--${name}`)),
  );
}
