//! Building a sampler from environment variables.

use std::sync::Arc;

use prela_core::Sampler;
use prela_core::config::ConfigError;

use crate::{AlwaysOff, AlwaysOn, ParentBased, RateLimiting, TraceIdRatio};

fn ratio(variable: &str, value: &str) -> Result<f64, ConfigError> {
    match value.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(ConfigError::new(variable, value, "a number from 0 to 1")),
    }
}

fn rate(variable: &str, value: &str) -> Result<f64, ConfigError> {
    match value.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(ConfigError::new(
            variable,
            value,
            "a positive number of traces per second",
        )),
    }
}

/// The sampler the process environment asks for; `None` if it names none.
pub fn from_env() -> Result<Option<Arc<dyn Sampler>>, ConfigError> {
    prela_core::config::check_environment()?;
    from_lookup(&prela_core::config::env_var)
}

/// The sampler the variables returned by `lookup` ask for, `None` if they
/// name none. In order of precedence:
///
/// - `PRELA_SAMPLE_RATE` = a ratio in [0, 1]: `ParentBased(TraceIdRatio)`.
/// - `OTEL_TRACES_SAMPLER` = `always_on`, `always_off`, `traceidratio`,
///   `parentbased_always_on`, `parentbased_always_off`,
///   `parentbased_traceidratio`, and Prela's `ratelimiting` and
///   `parentbased_ratelimiting`; `OTEL_TRACES_SAMPLER_ARG` is the ratio
///   (default 1.0) or the traces per second (required).
pub fn from_lookup(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Arc<dyn Sampler>>, ConfigError> {
    if let Some(v) = lookup("PRELA_SAMPLE_RATE").filter(|v| !v.trim().is_empty()) {
        let r = ratio("PRELA_SAMPLE_RATE", &v)?;
        return Ok(Some(Arc::new(ParentBased::new(TraceIdRatio::new(r)))));
    }
    let Some(name) = lookup("OTEL_TRACES_SAMPLER").filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let arg = lookup("OTEL_TRACES_SAMPLER_ARG").filter(|v| !v.trim().is_empty());
    let arg_ratio = || match &arg {
        Some(a) => ratio("OTEL_TRACES_SAMPLER_ARG", a),
        None => Ok(1.0),
    };
    let arg_rate = || match &arg {
        Some(a) => rate("OTEL_TRACES_SAMPLER_ARG", a),
        None => Err(ConfigError::new(
            "OTEL_TRACES_SAMPLER_ARG",
            "",
            "traces per second for the rate-limiting sampler",
        )),
    };
    let sampler: Arc<dyn Sampler> = match name.trim().to_ascii_lowercase().as_str() {
        "always_on" => Arc::new(AlwaysOn),
        "always_off" => Arc::new(AlwaysOff),
        "traceidratio" => Arc::new(TraceIdRatio::new(arg_ratio()?)),
        "parentbased_always_on" => Arc::new(ParentBased::new(AlwaysOn)),
        "parentbased_always_off" => Arc::new(ParentBased::new(AlwaysOff)),
        "parentbased_traceidratio" => Arc::new(ParentBased::new(TraceIdRatio::new(arg_ratio()?))),
        "ratelimiting" => Arc::new(RateLimiting::new(arg_rate()?)),
        "parentbased_ratelimiting" => Arc::new(ParentBased::new(RateLimiting::new(arg_rate()?))),
        _ => {
            return Err(ConfigError::new(
                "OTEL_TRACES_SAMPLER",
                name,
                "one of always_on, always_off, traceidratio, parentbased_always_on, \
                 parentbased_always_off, parentbased_traceidratio, ratelimiting, \
                 parentbased_ratelimiting",
            ));
        }
    };
    Ok(Some(sampler))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    type Vars<'a> = &'a [(&'a str, &'a str)];

    fn run(vars: &[(&str, &str)]) -> Result<Option<String>, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        from_lookup(&|k| map.get(k).cloned()).map(|s| s.map(|s| s.description()))
    }

    #[test]
    fn table() {
        let ok: &[(Vars<'_>, Option<&str>)] = &[
            (&[], None),
            (
                &[("OTEL_TRACES_SAMPLER", "always_on")],
                Some("AlwaysOnSampler"),
            ),
            (
                &[("OTEL_TRACES_SAMPLER", "ALWAYS_OFF")],
                Some("AlwaysOffSampler"),
            ),
            (
                &[("OTEL_TRACES_SAMPLER", "traceidratio")],
                Some("TraceIdRatioBased{1}"),
            ),
            (
                &[
                    ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
                ],
                Some("ParentBased{root:TraceIdRatioBased{0.25}}"),
            ),
            (
                &[
                    ("OTEL_TRACES_SAMPLER", "ratelimiting"),
                    ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
                ],
                Some("RateLimiting{0.5}"),
            ),
            (
                &[
                    ("PRELA_SAMPLE_RATE", "0.1"),
                    ("OTEL_TRACES_SAMPLER", "always_off"),
                ],
                Some("ParentBased{root:TraceIdRatioBased{0.1}}"),
            ),
        ];
        for (vars, want) in ok {
            assert_eq!(run(vars).unwrap().as_deref(), *want, "{vars:?}");
        }
    }

    #[test]
    fn errors_name_variable_and_value() {
        let cases: &[(Vars<'_>, &str, &str)] = &[
            (&[("PRELA_SAMPLE_RATE", "1.5")], "PRELA_SAMPLE_RATE", "1.5"),
            (
                &[("PRELA_SAMPLE_RATE", "half")],
                "PRELA_SAMPLE_RATE",
                "half",
            ),
            (
                &[("OTEL_TRACES_SAMPLER", "sometimes")],
                "OTEL_TRACES_SAMPLER",
                "sometimes",
            ),
            (
                &[
                    ("OTEL_TRACES_SAMPLER", "traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "-0.1"),
                ],
                "OTEL_TRACES_SAMPLER_ARG",
                "-0.1",
            ),
            (
                &[("OTEL_TRACES_SAMPLER", "ratelimiting")],
                "OTEL_TRACES_SAMPLER_ARG",
                "",
            ),
            (
                &[
                    ("OTEL_TRACES_SAMPLER", "ratelimiting"),
                    ("OTEL_TRACES_SAMPLER_ARG", "inf"),
                ],
                "OTEL_TRACES_SAMPLER_ARG",
                "inf",
            ),
        ];
        for (vars, var, value) in cases {
            let e = run(vars).unwrap_err();
            assert_eq!((e.variable(), e.value()), (*var, *value));
            let msg = e.to_string();
            assert!(
                msg.contains(var) && msg.contains(&format!("{value:?}")),
                "{msg}"
            );
        }
    }
}
