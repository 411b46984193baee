import { NLI_NEUTRAL } from '../../../method/answers/nli';
import { getTask } from '../../../method/tasks';
import type { Question, TaskName } from '../../../method/types';

/** Hand-written model-style completions and the answer each must yield (normalised), null = abstention. */

const source = { file: 'table', line: 1 };
const OBQA: Question = {
  id: 'obqa',
  text: 'To save money for a vacation, the best way is to …',
  gold: ['B'],
  choices: [
    { label: 'A', text: 'make more phone calls' },
    { label: 'B', text: 'quit eating lunch out' },
    { label: 'C', text: 'buy less with monopoly money' },
    { label: 'D', text: 'have lunch with friends' },
  ],
  source,
};
const ARC_NUMERIC: Question = {
  id: 'arc',
  text: 'What will most likely result if a high-pressure system stays a long time?',
  gold: ['3'],
  choices: [
    { label: '1', text: 'fog' },
    { label: '2', text: 'rain' },
    { label: '3', text: 'drought' },
    { label: '4', text: 'tornado' },
  ],
  source,
};
const ARC_SENTENCES: Question = {
  id: 'arc2',
  text: 'What does a plant do in sunlight?',
  gold: ['A'],
  choices: [
    { label: 'A', text: 'Oxygen is provided. Carbon dioxide is removed.' },
    { label: 'B', text: 'Carbon dioxide is provided. Oxygen is removed.' },
    { label: 'C', text: 'Oxygen is provided. Nitrogen is removed.' },
  ],
  source,
};

type Row = [task: TaskName, completion: string, expected: string | null, question?: Question];

const ROWS: Row[] = [
  // numbers (gsm8k)
  ['gsm8k', 'She sells 16 - 3 - 4 = 9 eggs and makes 9 * 2 = 18 dollars. The answer is 18.', '18'],
  ['gsm8k', 'He pays 1,000 + 234 = 1,234 dollars. The answer is $1,234.', '1234'],
  ['gsm8k', 'The answer is 1,234 dollars.', '1234'],
  ['gsm8k', 'The answer is $1234.00.', '1234'],
  ['gsm8k', 'The answer is 1,450,000.', '1450000'],
  ['gsm8k', 'The temperature falls by 10. The answer is -10.', '-10'],
  ['gsm8k', 'The answer is −3 degrees.', '-3'],
  ['gsm8k', 'Each share is 5 / 2 = 2.5. The answer is 2.50.', '2.5'],
  ['gsm8k', 'The answer is 0.75 liters.', '0.75'],
  ['gsm8k', 'The answer is .5 of a pie.', '0.5'],
  ['gsm8k', 'The discount is 50 percent of the price. The answer is 50%.', '50'],
  ['gsm8k', 'The answer is +7.', '7'],
  ['gsm8k', 'The answer is 007.', '7'],
  ['gsm8k', 'The answer is **42**.', '42'],
  ['gsm8k', 'The answer is \\boxed{42}.', '42'],
  ['gsm8k', 'So the final answer is $\\boxed{1,080}$.', '1080'],
  ['gsm8k', 'We get 6 * 7 = 42.\n\\[ \\boxed{42} \\]', '42'],
  ['gsm8k', 'She has 5 left. The answer is 7. Wait, she gave 2 away, so the answer is 5.', '5'],
  ['gsm8k', 'She earns 20 dollars an hour for 3 hours, so 60 dollars.', null],
  ['gsm8k', 'He buys 3 packs of 4, which is 12 pens. The answer is', null],
  ['gsm8k', 'The answer is unknown without more information.', null],
  ['gsm8k', 'The answer is five.', '5'],
  ['gsm8k', 'The answer is twenty-one apples.', '21'],
  ['gsm8k', 'The answer is 12 apples and she is happy about it.', '12'],
  ['gsm8k', 'The answer is 5 + 3 = 8.', '8'],
  ['gsm8k', 'The answer is 8 because 5 + 3 = 8 and 2 + 1 = 3.', '8'],
  ['gsm8k', 'Janet has 4 * 3 = 12 eggs.\n#### 12', '12'],
  ['gsm8k', 'Total: 3 * 4 = 12 cookies.\nAnswer: 12', '12'],
  ['gsm8k', 'So she needs 15 cups.\nThe answer is 15 cups.\n\nQ: A new question with 99 in it?', '15'],
  ['gsm8k', 'The answer is: 36', '36'],
  [
    'gsm8k',
    'He has 2 + 3 = 5 pens. The answer is 5.\n\nQ: Ann has 7 cats. How many?\nA: The answer is 7.',
    '5',
  ],
  ['gsm8k', 'He has 2 + 3 = 5 pens. The answer is\n\nQ: Ann has 7 cats. How many?', null],
  ['gsm8k', 'The answer is:\n**19**', '19'],
  ['gsm8k', 'The answer is 3/4.', '3/4'],
  ['gsm8k', 'The answer is 1234.5 meters. That is about 1.2 km.', '1234.5'],
  ['gsm8k', 'THE ANSWER IS 64!', '64'],
  // multiple choice (openbookqa, arc)
  ['openbookqa', 'Eating out costs money, so skipping it saves. The answer is (B).', 'B', OBQA],
  ['openbookqa', 'The answer is B.', 'B', OBQA],
  ['openbookqa', 'The answer is b', 'B', OBQA],
  ['openbookqa', 'The answer is quit eating lunch out.', 'B', OBQA],
  ['openbookqa', 'The answer is (B) quit eating lunch out.', 'B', OBQA],
  ['openbookqa', 'The answer is B) quit eating lunch out', 'B', OBQA],
  ['openbookqa', 'The answer is **(D)**.', 'D', OBQA],
  ['openbookqa', 'The answer is option c.', 'C', OBQA],
  ['openbookqa', 'The answer is A. Making calls costs money, so I am unsure.', 'A', OBQA],
  ['openbookqa', 'The answer is Have lunch with friends!', 'D', OBQA],
  ['openbookqa', 'The answer is quit eating lunch out, because it saves money.', 'B', OBQA],
  ['openbookqa', 'The answer is \\boxed{B}.', 'B', OBQA],
  ['openbookqa', 'Lunch costs money.\nAnswer: (C)', 'C', OBQA],
  ['openbookqa', 'The answer is (A). Hmm, no: the answer is (B).', 'B', OBQA],
  ['openbookqa', 'I am not sure which of these saves money.', null, OBQA],
  ['openbookqa', 'The answer is (E).', '(E)', OBQA],
  ['openbookqa', 'The answer is option e.', '(E)', OBQA],
  ['openbookqa', 'The answer is go to the moon.', 'go to the moon', OBQA],
  ['arc', 'No rain means dry land. The answer is (3).', '3', ARC_NUMERIC],
  ['arc', 'The answer is drought.', '3', ARC_NUMERIC],
  ['arc', 'The answer is 3 drought', '3', ARC_NUMERIC],
  ['arc', 'The answer is Oxygen is provided. Carbon dioxide is removed.', 'A', ARC_SENTENCES],
  [
    'arc',
    'The answer is Oxygen is provided. Nitrogen is removed. That is photosynthesis.',
    'C',
    ARC_SENTENCES,
  ],
  // NLI (anli)
  ['anli', 'The premise says he walked, and walking is moving. The answer is yes.', 'yes'],
  ['anli', 'The answer is no.', 'no'],
  ['anli', 'The answer is it is not possible to tell.', NLI_NEUTRAL],
  ['anli', 'The answer is: It is not possible to tell', NLI_NEUTRAL],
  ['anli', 'The answer is **No**.', 'no'],
  ['anli', 'The answer is yes, the hypothesis follows from the premise.', 'yes'],
  ['anli', 'The answer is not possible to tell.', NLI_NEUTRAL],
  ['anli', 'The answer is impossible to tell.', NLI_NEUTRAL],
  ['anli', 'The answer is "no".', 'no'],
  ['anli', 'The hypothesis cannot be checked against the premise.', null],
  // DROP spans, dates, numbers (official normalisation: numbers as floats, articles and punctuation dropped)
  ['drop', 'The Bears scored the first touchdown. The answer is Bears.', 'bears'],
  ['drop', 'The answer is the Chicago Bears.', 'chicago bears'],
  ['drop', 'The answer is 10 yards.', '10.0 yards'],
  ['drop', 'The answer is 1,000.', '1000.0'],
  ['drop', 'The answer is 88.32.', '88.32'],
  ['drop', 'The answer is December 7, 1941.', 'december 7.0 1941.0'],
  ['drop', 'The answer is St. Louis.', 'st louis'],
  ['drop', 'The answer is George W. Bush. He won in 2000.', 'george w bush'],
  ['drop', 'The answer is U.S. Army.', 'us army'],
  ['drop', 'The answer is Pakistanis and Filipinos.', 'pakistanis and filipinos'],
  ['drop', 'The answer is pre-war.', 'pre war'],
  ['drop', 'There were 5 touchdowns in all. The answer is 5. Actually the answer is 6.', '6.0'],
  ['drop', 'The answer is **Josh Lambo**.', 'josh lambo'],
  ['drop', 'Nobody is named in the passage.', null],
];

describe('answer extraction table', () => {
  it('has at least 60 rows across all answer types', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(ROWS.map((r) => r[0]))).toEqual(new Set(['gsm8k', 'openbookqa', 'arc', 'anli', 'drop']));
  });

  // Plain titles: some completions hold "$1" and "%", which it.each's title formatting would interpret.
  for (const [taskName, completion, expected, question] of ROWS) {
    it(`${taskName}: ${JSON.stringify(completion)} → ${JSON.stringify(expected)}`, () => {
      const task = getTask(taskName);
      const extracted = task.extractAnswer(completion, question);
      const normalized = extracted === null ? null : task.normalize(extracted, question);
      expect(normalized).toBe(expected);
    });
  }
});
