// The live run page (services/coordinator/src/live): polls /api/run every second and draws it with uPlot (served
// from node_modules by the coordinator). Plain browser JavaScript, no build step: what is here is what runs.

const PARTS = {
  wait_gradients: 'waiting for gradients',
  reduce: 'reduce',
  optimizer: 'optimizer (Adam)',
  publish: 'publish parameters',
};
const $ = (id) => document.getElementById(id);
const number = (v, digits = 0) =>
  v === null || v === undefined ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: digits });

function chart(el, series, scales) {
  const width = () => Math.max(300, el.clientWidth);
  const plot = new uPlot(
    {
      width: width(),
      height: 260,
      scales: { x: { time: false }, ...scales },
      axes: [{ label: 'step' }, { size: 70 }],
      legend: { live: false },
      series: [{ label: 'step' }, ...series],
    },
    [[], ...series.map(() => [])],
    el,
  );
  window.addEventListener('resize', () => plot.setSize({ width: width(), height: 260 }));
  return plot;
}

const lossChart = chart(
  $('loss-chart'),
  [
    { label: 'train loss', stroke: '#4e79a7', width: 1.5 },
    { label: 'test MSE', stroke: '#e15759', width: 2, points: { show: true, size: 7 }, spanGaps: true },
  ],
  { y: { distr: 3 } },
);
const rateChart = chart($('rate-chart'), [{ label: 'samples/s', stroke: '#59a14f', width: 1.5 }], {});

let previewStep = null;

function render(run) {
  $('run').textContent = run.run;
  document.title = `gradq ${run.run}`;
  const status = $('status');
  status.className = `status ${run.state}`;
  status.textContent =
    run.state === 'finished' ? 'finished' : run.state === 'starting' ? 'starting…' : 'training (live)';
  $('epoch').textContent = run.epoch ? `${run.epoch} / ${run.epochs}` : '–';
  $('step').textContent = `${number(run.step)} / ${number(run.stepsTotal)}`;
  $('rate').textContent = number(run.samplesPerSecond);
  $('workers').textContent = number(run.workersAlive);
  const mse = run.testMse.value.at(-1);
  $('mse').textContent = mse === undefined || mse === null ? '–' : mse.toPrecision(4);

  // One x axis for both curves: test MSE points sit at the step of their epoch end.
  const joined = uPlot.join([
    [run.steps.step, run.steps.loss],
    [run.testMse.step, run.testMse.value],
  ]);
  lossChart.setData(joined);
  $('loss-chart').dataset.points = String(run.steps.step.length);
  rateChart.setData([run.steps.step, run.steps.samplesPerSecond]);
  $('rate-chart').dataset.points = String(run.steps.step.length);

  const parts = $('parts');
  const legend = $('parts-legend');
  if (run.parts) {
    const total = Object.values(run.parts).reduce((a, b) => a + b, 0);
    parts.replaceChildren(
      ...Object.keys(PARTS).map((part) => {
        const div = document.createElement('div');
        div.className = `part-${part}`;
        div.style.width = `${total > 0 ? (100 * run.parts[part]) / total : 0}%`;
        div.title = `${PARTS[part]}: ${run.parts[part].toFixed(2)} ms`;
        return div;
      }),
    );
    legend.replaceChildren(
      ...Object.keys(PARTS).flatMap((part) => {
        const swatch = document.createElement('span');
        swatch.className = `swatch part-${part}`;
        const text = document.createTextNode(
          `${PARTS[part]} ${run.parts[part].toFixed(1)} ms (${total > 0 ? Math.round((100 * run.parts[part]) / total) : 0}%)`,
        );
        return [swatch, text];
      }),
      document.createTextNode(` — ${total.toFixed(1)} ms a step`),
    );
  }

  if (run.preview && run.preview.step !== previewStep) {
    previewStep = run.preview.step;
    const img = $('preview');
    img.src = `/preview.png?step=${previewStep}`;
    img.hidden = false;
    $('preview-step').textContent = `checkpoint at step ${number(previewStep)}`;
  }
}

async function poll() {
  try {
    const res = await fetch('/api/run', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const run = await res.json();
    render(run);
    if (run.state === 'finished') return;
  } catch {
    const status = $('status');
    if (status.className !== 'status finished') {
      status.className = 'status lost';
      status.textContent = 'no answer from the coordinator (the run ended or stopped); retrying…';
    }
  }
  setTimeout(poll, 1000);
}

poll();
