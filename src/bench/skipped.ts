/** Thrown by an experiment that cannot run on this machine; the run records why and goes on. */
export class SkippedExperiment extends Error {}
