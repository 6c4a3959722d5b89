export { ExternalSorter, FAN_IN, estimateHeapBytes } from './external-sorter.ts';
export type { ExternalSorterOptions, SorterStats } from './external-sorter.ts';
export { removeOrphanedSpills, spillDirectory, spillRoot } from './spill.ts';
