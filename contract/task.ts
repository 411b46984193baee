import type { TaskOptions } from '../method/tasks';
import type { TaskName } from '../method/types';
import type { SamplingSettings } from './config';

/** The task a round's questions belong to, as activities receive it (config `task`). */
export interface TaskRef {
  name: TaskName;
  options?: TaskOptions;
}

/** The prompt paths are sampled with (config sampling.prompt). */
export type SamplingPromptKind = SamplingSettings['prompt'];
