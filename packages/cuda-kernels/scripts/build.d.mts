// Types of build.mjs's exports, for the tests.
export const FATBIN: string;
export const ADDON: string;
export const KERNELS: string;
export const DEFAULT_ARCHS: readonly number[];
export function findNvcc(env?: NodeJS.ProcessEnv): string | undefined;
export function archsFrom(env?: NodeJS.ProcessEnv): readonly number[];
export function nvccArgs(source: string, out: string, archs: readonly number[]): string[];
export function buildFatbin(nvcc: string, out?: string, archs?: readonly number[]): string | undefined;
