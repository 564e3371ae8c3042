#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod advisor;
pub mod all_at_once;
pub mod blue_green;
pub mod canary;
mod error;
mod program;
pub mod rolling;

use std::sync::Arc;

use release_core::engine::EngineBuilder;
use release_core::plugin::Strategy;

pub use advisor::{
    Monitoring, Reason, RollbackClass, RollbackSpeed, ServiceProfile, StrategyAdvice, TrafficLevel,
    TrafficVolume, recommend_strategy,
};
pub use all_at_once::AllAtOnce;
pub use blue_green::{BLUE, BlueGreen, BlueGreenBuilder, GREEN};
pub use canary::{CANARY, Canary, CanaryBuilder};
pub use error::StrategyError;
pub use rolling::{NEXT, Rolling, RollingBuilder};

/// Every built-in strategy with its default parameters, under the names manifests use
/// (`all_at_once`, `rolling`, `blue_green`, `canary`). A component's own `strategy` block
/// overrides the defaults.
pub fn all() -> Vec<Arc<dyn Strategy>> {
    vec![
        Arc::new(AllAtOnce),
        Arc::new(Rolling::default()),
        Arc::new(BlueGreen::default()),
        Arc::new(Canary::default()),
    ]
}

/// Registers every built-in strategy on an engine builder.
pub fn register(mut builder: EngineBuilder) -> EngineBuilder {
    for strategy in all() {
        builder = builder.strategy(strategy);
    }
    builder
}
