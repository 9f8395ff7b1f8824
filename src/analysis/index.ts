// The analysis API for the controller and the CLI: pure functions of counts, profiles and time.
export { BOUND_GRID, belowLogE, ratioUpperBound, upperBound } from "./bounds.ts";
export {
  type ArgValue,
  BUILT_IN_PROFILE_DIR,
  loadBuiltInProfiles,
  loadProfileFile,
  ProfileError,
  parseProfiles,
  renderQueries,
  resolveArgs,
  resolveProfiles,
  type Target,
} from "./profiles.ts";
export {
  type Counts,
  EXCEEDANCE_GRID,
  exceedanceLogE,
  type Grid,
  RATIO_GRID,
  ratioBelowLogE,
  ratioLogE,
  rejects,
} from "./sequential.ts";
export {
  type ShortStep,
  type StepTraffic,
  shortAnalysisSteps,
  timeToPass,
  tooShortMessage,
} from "./step-time.ts";
export {
  alphaShares,
  baselineFloor,
  combine,
  type EvaluateOptions,
  errorVerdict,
  evaluate,
  type GateSource,
  type IndicatorQueries,
  judgedWindows,
  type Observation,
  type PopulationQueries,
  VERDICT_KINDS,
  type Verdict,
  type VerdictDetails,
  type VerdictKind,
} from "./verdict.ts";
