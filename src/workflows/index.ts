/** The workflow bundle's entry point: every workflow type the worker registers. */
export { patchLifecycle } from './patch/lifecycle';
export { hostWave } from './host-wave';
export { rollbackHosts } from './rollback-hosts';
export { refreshHostInventory } from './host-inventory';
export { activityBaseline } from './baseline';
