import type { AuditedPath, QuestionAudit, RoundAudit } from './audit';

/** The audit as text for a terminal (`--json` prints the objects themselves). */

const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? '-' : `${(x * 100).toFixed(1)}%`;
const orDash = (x: string | number | null | undefined) => (x === null || x === undefined ? '-' : String(x));

function section(title: string, lines: string[]): string {
  return [`${title}`, ...lines.map((l) => `  ${l}`)].join('\n');
}

export function formatRoundAudit(a: RoundAudit): string {
  const out: string[] = [];
  out.push(
    `campaign ${a.campaignId}, round ${a.round}: ${a.startedAt} -> ${a.finishedAt} (${a.wallSeconds.toFixed(1)} s)`,
  );
  const l = a.lineage;
  out.push(
    section('lineage', [
      `model in      ${l.modelIn}`,
      `model out     ${l.modelOut}`,
      `dataset       ${orDash(l.datasetRef)}`,
      `evaluation    ${orDash(l.evalRef)}`,
      `exemplars     ${orDash(l.exemplarsRef)}`,
      ...(l.generatedQuestionsRef ? [`gen. questions ${l.generatedQuestionsRef}`] : []),
      ...l.sampleShards.map(
        (s, i) => `sample shard ${i}: ${s.ref} (${s.questions} questions, ${s.paths} paths)`,
      ),
      `votes         ${orDash(l.votesRef)}`,
      `kept paths    ${orDash(l.keptRef)}`,
      `training set  ${orDash(l.trainingSetRef)}`,
      ...(l.policySetRef ? [`policy set    ${l.policySetRef}`] : []),
      `loss curve    ${orDash(l.lossCurveRef)}`,
      ...l.evaluationShards.map(
        (s, i) => `eval shard ${i}:   ${s.ref} (${s.questions} questions, ${s.paths} paths)`,
      ),
      `eval details  ${l.evaluationDetailsRef}`,
      ...(l.student ? [`student       ${l.student.modelIn} -> ${l.student.modelOut}`] : []),
    ]),
  );
  out.push(
    section('task and config', [
      `task ${a.task ? JSON.stringify(a.task) : 'not recorded (pass --task or -c)'}`,
      ...(a.config
        ? [
            `sampling ${JSON.stringify(a.config.sampling)}`,
            `voting ${JSON.stringify(a.config.voting)}`,
            `filtering ${JSON.stringify(a.config.filtering)}`,
            `formats ${a.config.formats.join(', ')}`,
            `training ${JSON.stringify(a.config.training)}`,
            `evaluation ${JSON.stringify(a.config.evaluation)}`,
            `gate ${JSON.stringify(a.config.gate)}`,
          ]
        : ['config not recorded (pass -c/--config)']),
    ]),
  );
  if (a.sampling) {
    const s = a.sampling;
    out.push(
      section('sampling', [
        `${s.questions} questions, ${s.paths} paths in ${s.shards} shards; finish reasons ${JSON.stringify(s.finishReasons)}; ${s.resumedQuestions} questions resumed`,
      ]),
    );
  }
  if (a.context) {
    out.push(
      section('context', [
        ...a.context.warnings,
        ...a.context.skipped.map((s) => `skipped in ${s.step}: ${s.questionIds.join(', ')}`),
      ]),
    );
  }
  if (a.vote) {
    const v = a.vote;
    out.push(
      section('vote', [
        `${v.questions} questions, mean confidence ${pct(v.meanConfidence)}, ${v.unanimous} unanimous, ${v.allAbstained} with every path abstaining`,
        `distinct answers per question: ${v.distinctAnswers.map((d) => `${d.answers}: ${d.questions}`).join(', ')}`,
        'confidence histogram (questions, kept paths):',
        ...v.confidenceHistogram.map(
          (b) =>
            `  ${pct(b.lo).padStart(6)} - ${pct(b.hi).padStart(6)}  ${String(b.questions).padStart(5)} ${String(b.keptPaths).padStart(6)}  ${'#'.repeat(Math.min(40, b.questions))}`,
        ),
      ]),
    );
  }
  if (a.filter) {
    const f = a.filter;
    out.push(
      section('filter', [
        `kept ${f.keptPaths} of ${f.paths} paths; ${f.questionsKept} of ${f.questions} questions kept at least one (mean confidence ${pct(f.meanKeptConfidence)})`,
        `dropped: ${Object.entries(f.droppedBy)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}`,
      ]),
    );
  }
  if (a.trainingSet) {
    out.push(
      section('training set', [
        `${a.trainingSet.examples} examples ${JSON.stringify(a.trainingSet.perFormat)}, ${a.trainingSet.replayed} replayed`,
      ]),
    );
  }
  if (a.policySet) {
    const p = a.policySet;
    out.push(
      section('policy set (ttrl)', [
        `${p.examples} trained paths of ${p.questions - p.questionsWithoutSignal} questions; ${p.questionsWithoutSignal} of ${p.questions} left out without signal (every trained path earned the same reward); mean reward ${p.meanReward.toFixed(3)}`,
      ]),
    );
  }
  if (a.training) {
    const t = a.training;
    const curve = t.lossCurve;
    const every = Math.max(1, Math.ceil(curve.length / 10));
    out.push(
      section('training', [
        `${t.steps} steps, ${t.examples} examples, ${t.tokensSeen} tokens, final loss ${orDash(t.finalLoss?.toFixed(4))}${t.resumedFromStep ? `, resumed from step ${t.resumedFromStep}` : ''}`,
        `loss curve: ${curve
          .filter((_, i) => i % every === 0 || i === curve.length - 1)
          .map((p) => `${p.step}:${p.loss.toFixed(3)}`)
          .join(' ')}`,
      ]),
    );
  }
  const m = a.metrics;
  out.push(
    section('metrics', [
      `${m.questions} evaluation questions: greedy ${pct(m.greedyAccuracy)}, SC@${m.scK} ${pct(m.scAccuracy)}`,
      `accuracy vs k: ${m.accuracyVsK.map((p) => `${p.k}: ${pct(p.accuracy)}`).join(', ')}`,
      `calibration (ECE ${m.expectedCalibrationError.toFixed(3)}): ${m.calibration
        .filter((b) => b.count > 0)
        .map((b) => `[${pct(b.lo)}, ${pct(b.hi)}) ${b.count} q ${pct(b.accuracy)}`)
        .join('; ')}`,
      ...(a.student
        ? [
            `student: greedy ${pct(a.student.scores.greedyAccuracy)}, SC@${a.student.scores.scK} ${pct(a.student.scores.scAccuracy)}`,
          ]
        : []),
    ]),
  );
  const healthLines = (['sampled', 'evaluated'] as const).flatMap((which) => {
    const h = a.health[which];
    if (!h) return [];
    return [
      `${which === 'sampled' ? 'sampled paths (unlabeled questions)' : "evaluated model's paths (labels unread)"}: ${h.questions} questions, ${h.paths} paths`,
      `  majority share ${pct(h.meanMajorityShare)} (questions per tenth: ${h.majorityShareHistogram.join(' ')}), answer entropy ${h.meanAnswerEntropy.toFixed(3)} bits, abstentions ${pct(h.abstentionRate)}`,
      `  path length mean ${h.meanPathTokens.toFixed(1)} / median ${h.medianPathTokens} tokens, distinct rationales ${pct(h.distinctRationaleFraction)}, same majority as the previous round ${pct(h.agreementWithPrevious)} of ${h.questionsComparedWithPrevious}`,
    ];
  });
  if (healthLines.length > 0) out.push(section('label-free health', healthLines));
  out.push(
    section('gate', [
      `${a.gate.promoted ? 'promoted' : 'NOT promoted'}: ${a.gate.reason} (accuracy ${pct(a.gate.accuracy)}, best before ${pct(a.gate.best)}, tolerance ${pct(a.gate.tolerance)})`,
    ]),
  );
  return `${out.join('\n\n')}\n`;
}

/** One path; in a TTRL round (`ttrl`) its reward and advantage, or that it voted without being trained. */
function pathLine(p: AuditedPath, ttrl = false): string {
  const fate = p.policy
    ? `, reward ${p.policy.reward} advantage ${p.policy.advantage.toFixed(3)}`
    : ttrl
      ? ', voted (not trained)'
      : p.kept === null
        ? ''
        : p.kept
          ? ' kept'
          : ` dropped (${p.dropReason})`;
  const text = p.text.replace(/\s+/g, ' ').trim();
  return `#${p.pathIndex} answer ${orDash(p.answer)} (stated ${JSON.stringify(p.stated)}), ${p.finishReason}, ${p.tokens} tokens, logprob ${p.sumLogprob.toFixed(2)}${fate}\n      ${text}`;
}

export function formatQuestionAudit(a: QuestionAudit): string {
  const out: string[] = [];
  out.push(`campaign ${a.campaignId}, round ${a.round}, question ${a.questionId} (task ${a.task.name})`);
  if (a.question) out.push(section('question', [a.question.text.replace(/\s+/g, ' ')]));
  if (a.sampled) {
    const s = a.sampled;
    const tally = s.vote.tally.map((t) => `${t.answer}: ${t.votes}`).join(', ');
    out.push(
      section(`sampled (shard ${s.shardRef})`, [
        `vote: ${orDash(s.vote.answer)} with ${s.vote.votes} of ${s.vote.m} paths, confidence ${pct(s.vote.confidence)}, ${s.vote.abstentions} abstained; tally ${tally || '-'}`,
        `kept paths: ${s.vote.keptPathIndexes.length > 0 ? s.vote.keptPathIndexes.join(', ') : 'none'}`,
        s.consistent
          ? 're-extracted answers give the same vote'
          : `MISMATCH: re-extracted answers vote ${orDash(s.revotedAnswer)}, the record says ${orDash(s.vote.answer)}`,
        ...(s.policy
          ? [
              `ttrl: ${s.policy.trainedPaths} trained paths, ${s.policy.inSet ? 'in the update' : 'left out (no signal: they all earned the same reward)'}; ${s.policy.rewardsConsistent ? 'recorded rewards match the re-extracted answers' : 'MISMATCH: a recorded reward differs from the re-extracted answer'}`,
            ]
          : []),
        ...s.paths.map((p) => pathLine(p, Boolean(s.policy))),
      ]),
    );
  }
  if (a.evaluated) {
    const e = a.evaluated;
    out.push(
      section(`evaluated (shard ${e.shardRef})`, [
        `gold ${e.gold ? e.gold.join(' | ') : '(not recorded)'}`,
        e.greedy
          ? `greedy: answer ${orDash(e.greedy.answer)}: ${e.greedy.text.replace(/\s+/g, ' ').trim()}`
          : 'greedy: off',
        e.vote
          ? `vote: ${orDash(e.vote.answer)}, confidence ${pct(e.vote.confidence)}, ${e.vote.correct ? 'correct' : 'wrong'}`
          : 'vote: not in the evaluation details',
        ...e.paths.map((p) => pathLine(p)),
      ]),
    );
  }
  return `${out.join('\n\n')}\n`;
}
