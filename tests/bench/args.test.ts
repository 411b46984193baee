import {
  allArgs,
  flagArg,
  listArg,
  numberArg,
  numberListArg,
  positionalArgs,
  stringArg,
} from '../../bench/args';

// The benchmarks' flags as process.argv holds them: node and the script first.
const argv = (...args: string[]) => ['node', 'bench/x.ts', ...args];

describe("the benchmarks' command-line flags (bench/args.ts)", () => {
  it('reads a value given as --name=value or --name value, the first one given, else the fallback', () => {
    const a = argv('--out=a.json', '--steps', '8', '--out', 'b.json', '--case={"vocab":32000,"x":"a=b"}');
    expect(stringArg('out', 'default.json', a)).toBe('a.json');
    expect(allArgs('out', a)).toEqual(['a.json', 'b.json']);
    expect(numberArg('steps', 4, a)).toBe(8);
    expect(stringArg('case', '', a)).toBe('{"vocab":32000,"x":"a=b"}');
    expect(stringArg('model', 'qwen2.5-0.5b', a)).toBe('qwen2.5-0.5b');
    expect(stringArg('model', undefined, a)).toBeUndefined();
    expect(numberArg('reps', 3, a)).toBe(3);
    expect(numberArg('head-chunk-rows', undefined, a)).toBeUndefined();
    // A longer flag that starts with the name is another flag.
    expect(numberArg('step', 2, a)).toBe(2);
    // --name= is given, empty: a string flag's empty value.
    expect(stringArg('malloc-mmap-threshold', 'x', argv('--malloc-mmap-threshold='))).toBe('');
  });

  it('reads lists, numbers in exponent form, switches and positional arguments', () => {
    const a = argv(
      'smollm2-135m',
      '--cases=a,b',
      '--top-ks',
      '0,40',
      '--lr=1e-4',
      '--merge',
      '--out',
      'dir',
      'qwen2.5-0.5b',
    );
    expect(listArg('cases', ['all'], a)).toEqual(['a', 'b']);
    expect(listArg('models', ['m1', 'm2'], a)).toEqual(['m1', 'm2']);
    expect(numberListArg('top-ks', [1], a)).toEqual([0, 40]);
    expect(numberListArg('steps', [1, 4, 8], a)).toEqual([1, 4, 8]);
    // An empty list turns a case off (--top-ps= : no top-p setting).
    expect(numberListArg('top-ps', [0.9], argv('--top-ps='))).toEqual([]);
    expect(numberArg('lr', 0, a)).toBe(1e-4);
    expect(flagArg('merge', a)).toBe(true);
    expect(flagArg('table-only', a)).toBe(false);
    // A switch is the flag alone, not a value's prefix.
    expect(flagArg('cases', a)).toBe(false);
    // The script names the flags that take a value: a value given apart from its flag is not positional.
    expect(positionalArgs(['out', 'top-ks'], a)).toEqual(['smollm2-135m', 'qwen2.5-0.5b']);
    // The script's own path and node's are not arguments.
    expect(flagArg('x.ts', argv())).toBe(false);
    expect(positionalArgs([], argv())).toEqual([]);
  });

  it('stops on a malformed number or a missing value, naming the flag', () => {
    expect(() => numberArg('reps', 3, argv('--reps=abc'))).toThrow('--reps=abc: not a number');
    expect(() => numberArg('steps', 4, argv('--steps='))).toThrow('--steps=: not a number');
    expect(() => numberArg('rounds', 2, argv('--rounds', '2x'))).toThrow('--rounds=2x: not a number');
    expect(() => numberArg('threads', 2, argv('--threads=Infinity'))).toThrow(
      '--threads=Infinity: not a number',
    );
    expect(() => numberListArg('seeds', [1], argv('--seeds=1,,3'))).toThrow(
      '--seeds=1,,3: "" is not a number',
    );
    expect(() => numberListArg('steps', [1], argv('--steps=1,x'))).toThrow(
      '--steps=1,x: "x" is not a number',
    );
    expect(() => stringArg('out', 'o', argv('--out'))).toThrow('--out needs a value');
    expect(() => stringArg('out', 'o', argv('--out', '--merge'))).toThrow('--out needs a value');
  });
});
