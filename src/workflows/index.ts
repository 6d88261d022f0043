/** The workflow bundle's entry point: every workflow type the worker registers. */
export { patchLifecycle } from './patch-lifecycle';
export { hostWave, rollbackHosts } from './host-wave';
export { refreshHostInventory } from './host-inventory';
export { activityBaseline } from './baseline';
