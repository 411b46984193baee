import { BadInputError } from '../../base/errors';
import type { Task, TaskName } from '../types';
import { anli } from './anli';
import { arc } from './arc';
import { arith } from './arith';
import { customTask, type CustomTaskOptions } from './custom';
import { drop } from './drop';
import { gsm8k } from './gsm8k';
import { openbookqa } from './openbookqa';

export * from './anli';
export * from './arc';
export * from './arith';
export * from './custom';
export * from './drop';
export * from './gsm8k';
export * from './multiple-choice';
export * from './openbookqa';
export { lineId, paperPrompts } from './shared';

/** Options a task may need; only `custom` reads any (field names, answer pattern, answer type). */
export type TaskOptions = CustomTaskOptions;

export const TASK_NAMES: readonly TaskName[] = [
  'gsm8k',
  'drop',
  'openbookqa',
  'arc',
  'anli',
  'arith',
  'custom',
];

const BUILT_IN: Record<Exclude<TaskName, 'custom'>, Task> = { gsm8k, drop, openbookqa, arc, anli, arith };

export function isTaskName(name: string): name is TaskName {
  return (TASK_NAMES as readonly string[]).includes(name);
}

/** The task of this name; `custom` is built from its options. An unknown name is bad input. */
export function getTask(name: string, options?: TaskOptions): Task {
  if (!isTaskName(name))
    throw new BadInputError(
      'task',
      null,
      'name',
      `unknown task "${name}"; known tasks: ${TASK_NAMES.join(', ')}`,
    );
  return name === 'custom' ? customTask(options) : BUILT_IN[name];
}
