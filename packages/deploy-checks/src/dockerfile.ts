/** One instruction, continuation lines joined and comment lines dropped. */
export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY... */
  readonly keyword: string;
  readonly args: string;
  /** 1-based line of the keyword. */
  readonly line: number;
}

export interface Stage {
  /** `AS` name, or the stage index as a string. */
  readonly name: string;
  /** The FROM image or stage, with global ARG defaults substituted. */
  readonly from: string;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  readonly globalArgs: Readonly<Record<string, string>>;
  readonly stages: readonly Stage[];
}

/** Parses a Dockerfile far enough for rule checks: instructions per stage; no heredocs or escape directives. */
export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comment lines are removed even inside a continued instruction, as Docker does.
    if (trimmed.startsWith('#')) return;
    if (!pending && trimmed === '') return;
    const continued = trimmed.endsWith('\\');
    const piece = continued ? trimmed.slice(0, -1) : trimmed;
    pending = pending ? { text: `${pending.text} ${piece}`, line: pending.line } : { text: piece, line: i + 1 };
    if (!continued) {
      const m = /^(\S+)\s*([\s\S]*)$/.exec(pending.text);
      if (m)
        instructions.push({
          keyword: (m[1] as string).toUpperCase(),
          args: (m[2] as string).trim(),
          line: pending.line,
        });
      pending = undefined;
    }
  });

  const globalArgs: Record<string, string> = {};
  const stages: { name: string; from: string; instructions: Instruction[] }[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      const image = (m?.[1] ?? ins.args).replace(
        /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
        (_, n: string) => globalArgs[n] ?? '',
      );
      stages.push({ name: m?.[2] ?? String(stages.length), from: image, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword === 'ARG') {
        const [name = '', value = ''] = ins.args.split(/=(.*)/s);
        globalArgs[name.trim()] = value.trim();
      }
    } else {
      stages.at(-1)?.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

/** The stage and every stage it is built FROM, base first. */
export function stageChain(file: Dockerfile, target: string): Stage[] {
  const chain: Stage[] = [];
  let current = file.stages.find((s) => s.name === target);
  while (current) {
    chain.unshift(current);
    const from = current.from;
    current = file.stages.find((s) => s.name === from);
  }
  return chain;
}

/** The base image a target finally rests on (the first FROM of its chain that is not a stage). */
export function baseImage(file: Dockerfile, target: string): string | undefined {
  return stageChain(file, target)[0]?.from;
}

/** Instructions of a target as the image sees them: its whole chain, base first. */
export function effectiveInstructions(file: Dockerfile, target: string): Instruction[] {
  return stageChain(file, target).flatMap((s) => s.instructions);
}
