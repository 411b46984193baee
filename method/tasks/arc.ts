import { multipleChoiceTask } from './multiple-choice';

/** ARC-Challenge: mostly A–D, some 1–4, a few with 3 or 5 choices. */
export const arc = multipleChoiceTask('arc');
