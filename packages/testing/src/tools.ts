// External programs that some tests need and a fresh machine lacks. `pnpm test` must pass there (issue 14), so the
// tests that need one skip, saying what is missing and how to install it. .ci/run installs them all and sets
// GRADQ_REQUIRE_TOOLS=1, which never skips: there a missing tool fails its tests, so CI still proves them.
import { spawnSync } from 'node:child_process';

interface ToolSpec {
  /** Commands (program and leading arguments) that provide the tool, in order of preference. */
  readonly commands: () => readonly (readonly string[])[];
  /** Arguments that make a working install exit 0 without side effects. */
  readonly probe: readonly string[];
  /** How to get it. */
  readonly install: string;
}

const TOOLS = {
  prometheus: {
    commands: () => [[process.env.PROMETHEUS_BIN ?? 'prometheus']],
    probe: ['--version'],
    install: 'apt-get install prometheus, or set PROMETHEUS_BIN',
  },
  promtool: {
    commands: () => [[process.env.PROMTOOL_BIN ?? 'promtool']],
    probe: ['--version'],
    install: 'apt-get install prometheus, or set PROMTOOL_BIN',
  },
  compose: {
    commands: () => [['docker', 'compose'], ['docker-compose']],
    probe: ['version'],
    install: 'apt-get install docker-compose, or Docker with its compose plugin',
  },
  openssl: { commands: () => [['openssl']], probe: ['version'], install: 'apt-get install openssl' },
  'python-torch': {
    // Debian's packages are /usr/bin/python3's; a pyenv or venv python3 earlier on PATH may lack them.
    commands: () => [...(process.env.PYTHON ? [[process.env.PYTHON]] : []), ['python3'], ['/usr/bin/python3']],
    probe: ['-c', 'import torch, numpy'],
    install: 'apt-get install python3-torch, or set PYTHON to a python with torch',
  },
  'python-onnx': {
    commands: () => [...(process.env.PYTHON ? [[process.env.PYTHON]] : []), ['python3'], ['/usr/bin/python3']],
    probe: ['-c', 'import onnx, numpy'],
    install: 'apt-get install python3-onnx, or set PYTHON to a python with onnx',
  },
  // The live run page's browser test drives it with playwright-core (executablePath: no browser download).
  chromium: {
    commands: () => [[process.env.CHROMIUM_BIN ?? '/usr/bin/chromium']],
    probe: ['--version'],
    install: 'apt-get install chromium, or set CHROMIUM_BIN',
  },
  // The CUDA kernels' compiler. The toolkit installs it in /usr/local/cuda/bin, which is often not on PATH.
  nvcc: {
    commands: () => [
      ...(process.env.NVCC ? [[process.env.NVCC]] : []),
      ['nvcc'],
      ...[process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda']
        .filter((home): home is string => Boolean(home))
        .map((home) => [`${home}/bin/nvcc`]),
    ],
    probe: ['--version'],
    install: "install NVIDIA's CUDA toolkit (its nvcc lands in /usr/local/cuda/bin), or set NVCC",
  },
} satisfies Record<string, ToolSpec>;

export type ToolName = keyof typeof TOOLS;

const found = new Map<ToolName, readonly string[] | undefined>();

/** The command (program and leading arguments) that runs `tool` here, or undefined where none does. */
export function findTool(tool: ToolName): readonly string[] | undefined {
  if (!found.has(tool)) {
    const { commands, probe } = TOOLS[tool];
    found.set(
      tool,
      commands().find(([program, ...args]) => {
        // `import torch` takes 5 s on a quiet 2-core machine; a loaded one took it past 30 s, and a present tool
        // read as missing.
        const run = spawnSync(program as string, [...args, ...probe], { stdio: 'ignore', timeout: 180_000 });
        return !run.error && run.status === 0;
      }),
    );
  }
  return found.get(tool);
}

/** node:test's `skip` option for a test that needs `tool`: false where it runs, else why not and how to get it. */
export function skipWithoutTool(tool: ToolName): string | false {
  if (findTool(tool)) return false;
  const commands = TOOLS[tool].commands().map((c) => `\`${c.join(' ')}\``);
  return skipUnlessRequired(`${commands.join(' or ')} not found: ${TOOLS[tool].install}`);
}

/**
 * `reason` as a skip, for what a test finds out only by trying (a redis-server built without TLS); false under
 * GRADQ_REQUIRE_TOOLS=1, where the test must fail instead.
 */
export function skipUnlessRequired(reason: string): string | false {
  if (process.env.GRADQ_REQUIRE_TOOLS === '1') return false;
  return `${reason} (GRADQ_REQUIRE_TOOLS=1 makes this skip a failure)`;
}
