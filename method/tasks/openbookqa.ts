import { multipleChoiceTask } from './multiple-choice';

/** OpenBookQA (Main): 4 choices labelled A–D. */
export const openbookqa = multipleChoiceTask('openbookqa');
