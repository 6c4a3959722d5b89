export { ExternalSorter, FAN_IN, estimateHeapBytes } from './external-sorter.ts';
export type { ExternalSorterOptions, SorterStats } from './external-sorter.ts';
