// Metric providers and the counter tracking that turns raw counters into request counts.
export {
  advancePopulation,
  countsOver,
  type PopulationState,
  populationCounts,
  sampleTimes,
  startPopulation,
} from "./collect.ts";
export {
  advanceCounters,
  type CounterState,
  type SeriesState,
  seriesKey,
  startCounters,
  totalIncrease,
} from "./counters.ts";
export {
  type PrometheusOptions,
  PrometheusProvider,
  type SecretKeyRef,
  type SecretReader,
  type TokenSource,
  tokenFromFile,
  tokenFromSecret,
} from "./prometheus.ts";
export {
  type CounterSample,
  type MetricsProvider,
  PROVIDER_ERROR_KINDS,
  ProviderError,
  type ProviderErrorKind,
} from "./types.ts";
