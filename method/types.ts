/**
 * The vocabulary of the method, in the paper's words. Every other layer speaks these types:
 * activities move them through the artifact store, workflows see only their counts and refs.
 */

export type TaskName = 'gsm8k' | 'drop' | 'openbookqa' | 'arc' | 'anli' | 'arith' | 'custom';

/** One option of a multiple-choice question. */
export interface Choice {
  label: string; // 'A'..'E' or '1'..'4', as in the file
  text: string;
}

/** Where a question came from, for error messages and the audit trail. */
export interface SourceRef {
  file: string;
  line: number; // 1-based
}

/** A question as every task loads it. Unlabeled questions have `gold: null`. */
export interface Question {
  /** Stable id: the file's own id field when it has one, else `<file basename>:<line>`. */
  id: string;
  /** What follows "Q: " in a prompt: the question with its passage / choices / premise rendered. */
  text: string;
  /** Accepted gold answers, raw as in the file (any one matches); null when unlabeled. */
  gold: string[] | null;
  /** Multiple-choice options, when the task has them (answers may name the option text). */
  choices?: Choice[];
  /** The gold rationale, when the data has one (gsm8k), with calculator notes `<<a*b=c>>` removed. */
  rationale?: string;
  source: SourceRef;
}

/** What a loader does with a bad line: stop at the first, or skip it and report every one. */
export type BadLinePolicy = 'fail-fast' | 'skip-and-report';

export interface BadLine {
  file: string;
  line: number;
  field: string;
  problem: string;
}

export interface LoadResult {
  questions: Question[];
  bad: BadLine[];
}

export interface LoadOptions {
  policy?: BadLinePolicy; // default 'fail-fast'
  /** Read only the first `limit` good questions. */
  limit?: number;
}

/** The text pieces of a task's prompts (paper, Table 2). */
export interface PromptPieces {
  /** Renders a question for a prompt, without the trailing "\nA:". Default `Q: ${question.text}`. */
  formatQuestion(question: Question): string;
  /** How an answer is stated: `The answer is ${answer}.` */
  formatAnswer(answer: string): string;
}

export interface Task {
  name: TaskName;
  loadQuestions(path: string, options?: LoadOptions): Promise<LoadResult>;
  /**
   * The final answer stated in a completion, or null (an abstention). Looks only at this text (and
   * the question's own choices, for option-text answers): never at another path or the gold.
   */
  extractAnswer(text: string, question?: Question): string | null;
  /** Canonical form used for voting and for comparison with the gold. Idempotent. */
  normalize(answer: string, question?: Question): string;
  /** Whether a predicted (already extracted, unnormalised) answer matches any gold answer. */
  isCorrect(prediction: string | null, gold: string[], question?: Question): boolean;
  prompts: PromptPieces;
}

/** One sampled reasoning path (a completion) for one question. */
export interface SampledPath {
  questionId: string;
  /** Index among the question's m paths; with the question id it names the path's RNG stream. */
  pathIndex: number;
  text: string;
  /** Sum of the completion's token log-probabilities (the vote's tie-break and weight). */
  sumLogprob: number;
  finishReason: 'stop' | 'eos' | 'length';
}

/** The four mixed formats of the paper (Table 2). */
export type FormatName = 'few-shot-cot' | 'few-shot-direct' | 'zero-shot-cot' | 'zero-shot-direct';
export const FORMAT_NAMES: readonly FormatName[] = [
  'few-shot-cot',
  'few-shot-direct',
  'zero-shot-cot',
  'zero-shot-direct',
];

/** A few-shot exemplar: a question, its rationale and its answer. */
export interface Exemplar {
  question: string; // as rendered by formatQuestion, e.g. "Q: ..."
  rationale: string; // reasoning, without the final "The answer is X."
  answer: string;
}

/** One fine-tuning example: loss is taken on the completion only. */
export interface TrainingExample {
  prompt: string;
  completion: string;
  format: FormatName;
  questionId: string;
  pathId: string; // `${questionId}#${pathIndex}`
}
