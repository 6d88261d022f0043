import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The custom search attributes of docs/temporal.md, "Search attributes"; registered by `ensureSearchAttributes`. */
export const PatchId = defineSearchAttributeKey('PatchId', SearchAttributeType.KEYWORD);
export const PatchPhase = defineSearchAttributeKey('PatchPhase', SearchAttributeType.KEYWORD);
export const PatchPriority = defineSearchAttributeKey('PatchPriority', SearchAttributeType.INT);
export const PatchEmergency = defineSearchAttributeKey('PatchEmergency', SearchAttributeType.BOOL);
export const PatchAdvisories = defineSearchAttributeKey('PatchAdvisories', SearchAttributeType.KEYWORD_LIST);
/** Beyond the documented five: added so `GET /v1/patches?state=` can filter through visibility. */
export const PatchState = defineSearchAttributeKey('PatchState', SearchAttributeType.KEYWORD);

export const PATCH_SEARCH_ATTRIBUTES = [PatchId, PatchPhase, PatchPriority, PatchEmergency, PatchAdvisories, PatchState];
