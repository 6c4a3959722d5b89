export { type NexmarkConfig, type ResolvedNexmarkConfig, NEXMARK_DEFAULTS, resolveNexmarkConfig, isResolvedNexmarkConfig } from './config.ts';
export { type Person, type Auction, type Bid, type NexmarkEvent, eventTime } from './model.ts';
export { JavaRandom } from './random.ts';
export {
  nexmarkEvent, nexmarkEventGenerator, nexmarkEventTime, nexmarkEventType, nexmarkWatermark,
  FIRST_PERSON_ID, FIRST_AUCTION_ID, FIRST_CATEGORY_ID, NUM_CATEGORIES, PERSON_ID_LEAD, AUCTION_ID_LEAD,
} from './generator.ts';
