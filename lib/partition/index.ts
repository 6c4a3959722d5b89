export { canonicalKey, murmur3, keyGroupOf, subtaskForKeyGroup, subtaskForKey } from './key-groups.ts';
