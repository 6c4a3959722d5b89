export {
  RESTART_STRATEGY_TYPES, UNLIMITED_ATTEMPTS,
  decideRestart, emptyRestartHistory, defaultRestartStrategy, describeRestartStrategy,
  type RestartDecision, type RestartHistory, type RestartStrategy, type RestartStrategyType,
} from './strategies.ts';
