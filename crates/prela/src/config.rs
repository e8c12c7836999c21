//! `prela::init()`: configuration from code and the environment.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prela_core::attributes::{
    SERVICE_NAME, TELEMETRY_SDK_LANGUAGE, TELEMETRY_SDK_NAME, TELEMETRY_SDK_VERSION,
};
use prela_core::config::{ConfigError, parse_bool};
use prela_core::value::Str;
use prela_core::{KeyValue, Resource, Sampler, SpanExporter, SpanProcessor, Value};
use prela_tracer::{SpanLimits, Tracer};
use prela_transport::text::percent_decode;
use prela_transport::{BatchConfig, BatchProcessor, RedactionRules, Redactor, SimpleProcessor};

use crate::global;

/// Why `init` failed.
///
/// `{:?}` reads as the [`Display`](fmt::Display) sentence, so
/// `fn main() -> Result<(), prela::InitError>` prints a sentence when
/// `install()?` fails; `{:#?}` shows the variant and its fields.
#[non_exhaustive]
pub enum InitError {
    /// An environment variable (or builder value) is invalid; the message
    /// names it and its value.
    Config(ConfigError),
    /// An exporter was named whose cargo feature is not enabled.
    FeatureMissing {
        /// Where the name came from (`PRELA_EXPORTER`, `OTEL_TRACES_EXPORTER`
        /// or `exporter_name`).
        source: String,
        /// The exporter name.
        exporter: String,
        /// The `prela` feature that provides it.
        feature: &'static str,
    },
    /// An exporter could not be built.
    Exporter {
        /// The exporter name.
        exporter: String,
        /// Why.
        error: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::Config(e) => write!(f, "prela: {e}"),
            InitError::FeatureMissing {
                source,
                exporter,
                feature,
            } if source == "PRELA_API_KEY" => write!(
                f,
                "prela: PRELA_API_KEY is set, which selects the {exporter} exporter, but the prela crate was built without its `{feature}` feature (enable it, or name another exporter in PRELA_EXPORTER)"
            ),
            InitError::FeatureMissing {
                source,
                exporter,
                feature,
            } => write!(
                f,
                "prela: {source} names exporter {exporter:?}, which needs the `{feature}` feature of the prela crate"
            ),
            InitError::Exporter { exporter, error } => {
                write!(
                    f,
                    "prela: could not set up the {exporter} exporter: {error}"
                )
            }
        }
    }
}

impl fmt::Debug for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return fmt::Display::fmt(self, f);
        }
        match self {
            InitError::Config(e) => f.debug_tuple("Config").field(e).finish(),
            InitError::FeatureMissing {
                source,
                exporter,
                feature,
            } => f
                .debug_struct("FeatureMissing")
                .field("source", source)
                .field("exporter", exporter)
                .field("feature", feature)
                .finish(),
            InitError::Exporter { exporter, error } => f
                .debug_struct("Exporter")
                .field("exporter", exporter)
                .field("error", error)
                .finish(),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Config(e) => Some(e),
            InitError::Exporter { error, .. } => Some(error.as_ref()),
            InitError::FeatureMissing { .. } => None,
        }
    }
}

impl From<ConfigError> for InitError {
    fn from(e: ConfigError) -> Self {
        InitError::Config(e)
    }
}

type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// An exporter built from its name, with the processor it gets by default.
type NamedExporter = (Box<dyn SpanExporter>, ProcessorKind);

/// How finished spans reach an exporter.
#[allow(clippy::exhaustive_enums)] // the two processors there are
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessorKind {
    /// Export inline on the thread that ends the span
    /// ([`SimpleProcessor`]): output appears at once, nothing is buffered.
    Simple,
    /// Queue and export from a worker thread ([`BatchProcessor`]): the
    /// application thread never waits on I/O.
    Batch,
}

/// Configures and installs the global tracer. Made by [`crate::init`].
///
/// Values set in code win over `PRELA_*` variables, which win over `OTEL_*`
/// ones, which win over the defaults. See `docs/configuration.md`.
#[must_use = "nothing is set up until install() is called"]
pub struct Builder {
    service_name: Option<Str>,
    exporter_names: Option<Vec<String>>,
    default_names: Option<Vec<String>>,
    exporters: Vec<Box<dyn SpanExporter>>,
    processors: Vec<Arc<dyn SpanProcessor>>,
    sampler: Option<Arc<dyn Sampler>>,
    trace_dir: Option<std::path::PathBuf>,
    #[cfg(feature = "console")]
    verbosity: Option<prela_export_console::Verbosity>,
    #[cfg(feature = "console")]
    console_output: Option<prela_export_console::Output>,
    #[cfg(feature = "file")]
    layout: Option<prela_export_file::Layout>,
    limits: Option<SpanLimits>,
    capture_content: Option<bool>,
    redaction: Option<Option<RedactionRules>>,
    kind: Option<ProcessorKind>,
    batch: Option<BatchConfig>,
    resource: Vec<KeyValue>,
    shutdown_timeout: Duration,
    lookup: Lookup,
    /// `lookup` is the process environment (checked at `build`).
    process_env: bool,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("service_name", &self.service_name)
            .field("exporter_names", &self.exporter_names)
            .field("exporters", &self.exporters.len())
            .field("processors", &self.processors.len())
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            service_name: None,
            exporter_names: None,
            default_names: None,
            exporters: Vec::new(),
            processors: Vec::new(),
            sampler: None,
            trace_dir: None,
            #[cfg(feature = "console")]
            verbosity: None,
            #[cfg(feature = "console")]
            console_output: None,
            #[cfg(feature = "file")]
            layout: None,
            limits: None,
            capture_content: None,
            redaction: None,
            kind: None,
            batch: None,
            resource: Vec::new(),
            shutdown_timeout: Duration::from_secs(5),
            lookup: Arc::new(prela_core::config::env_var),
            process_env: true,
        }
    }
}

const KNOWN_EXPORTERS: &str = "console, file, otlp, cloud, none";

impl Builder {
    /// The service name (else `PRELA_SERVICE_NAME`, `OTEL_SERVICE_NAME`, or
    /// the `service.name` in `OTEL_RESOURCE_ATTRIBUTES`; default
    /// `unknown_service`).
    pub fn service_name(mut self, name: impl Into<Str>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Exporters by name, comma-separated: `console`, `file`, `otlp`,
    /// `cloud`, `none` (else `PRELA_EXPORTER`, `OTEL_TRACES_EXPORTER`;
    /// default: `cloud` when `PRELA_API_KEY` is set, else `console` when the
    /// `console` feature is on, else none).
    pub fn exporter_name(mut self, names: &str) -> Self {
        self.exporter_names = Some(split_names(names));
        self
    }

    /// The exporters to use when neither code ([`exporter_name`](Self::exporter_name))
    /// nor the environment (`PRELA_EXPORTER`, `OTEL_TRACES_EXPORTER`) names
    /// any and `PRELA_API_KEY` is unset; in place of the built-in default
    /// (`console`). A program that wants `console,file` while developing
    /// sets this, and still sends to Prela cloud when a key is set or to the
    /// exporter the environment names.
    pub fn default_exporter_name(mut self, names: &str) -> Self {
        self.default_names = Some(split_names(names));
        self
    }

    /// Adds an exporter of your own (inline through a [`SimpleProcessor`]
    /// unless [`processor_kind`](Self::processor_kind) or `PRELA_PROCESSOR`
    /// says batch). Exporters named by `exporter_name` or the environment
    /// are added only if no exporter or processor is given here.
    pub fn exporter(mut self, exporter: impl SpanExporter) -> Self {
        self.exporters.push(Box::new(exporter));
        self
    }

    /// Adds a processor of your own.
    pub fn processor(mut self, processor: impl SpanProcessor) -> Self {
        self.processors.push(Arc::new(processor));
        self
    }

    /// The sampler (else from `PRELA_SAMPLE_RATE` / `OTEL_TRACES_SAMPLER`;
    /// default parent-based always-on).
    pub fn sampler(mut self, sampler: impl Sampler) -> Self {
        self.sampler = Some(Arc::new(sampler));
        self
    }

    /// The file exporter's directory (else `PRELA_TRACE_DIR`; default
    /// `./traces`).
    pub fn trace_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.trace_dir = Some(dir.into());
        self
    }

    /// The console exporter's verbosity (else `PRELA_CONSOLE_VERBOSITY`;
    /// default normal).
    #[cfg(feature = "console")]
    #[cfg_attr(docsrs, doc(cfg(feature = "console")))]
    pub fn console_verbosity(mut self, v: prela_export_console::Verbosity) -> Self {
        self.verbosity = Some(v);
        self
    }

    /// The console exporter's stream (else `PRELA_CONSOLE_OUTPUT` =
    /// `stdout` or `stderr`; default standard output).
    #[cfg(feature = "console")]
    #[cfg_attr(docsrs, doc(cfg(feature = "console")))]
    pub fn console_output(mut self, output: prela_export_console::Output) -> Self {
        self.console_output = Some(output);
        self
    }

    /// The file exporter's layout (else `PRELA_FILE_LAYOUT`; default
    /// per-service).
    #[cfg(feature = "file")]
    #[cfg_attr(docsrs, doc(cfg(feature = "file")))]
    pub fn file_layout(mut self, layout: prela_export_file::Layout) -> Self {
        self.layout = Some(layout);
        self
    }

    /// The processor for every exporter (else `PRELA_PROCESSOR`; default:
    /// simple for the console and custom exporters, batch for the file and
    /// network exporters).
    pub fn processor_kind(mut self, kind: ProcessorKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Batch processor settings (else the `OTEL_BSP_*` variables).
    pub fn batch_config(mut self, config: BatchConfig) -> Self {
        self.batch = Some(config);
        self
    }

    /// Record prompts, completions and tool arguments in GenAI spans (else
    /// `PRELA_CAPTURE_CONTENT`, then
    /// `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`; default off).
    pub fn capture_content(mut self, on: bool) -> Self {
        self.capture_content = Some(on);
        self
    }

    /// Redaction rules applied to every span before any exporter; `None`
    /// turns redaction off (else `PRELA_REDACT` = `default`, `strict` or
    /// `off`; default: [`RedactionRules::default`], which masks secrets).
    pub fn redaction(mut self, rules: Option<RedactionRules>) -> Self {
        self.redaction = Some(rules);
        self
    }

    /// Span limits (else the `OTEL_SPAN_*` variables).
    pub fn span_limits(mut self, limits: SpanLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Adds a resource attribute (wins over `OTEL_RESOURCE_ATTRIBUTES`).
    pub fn resource_attribute(
        mut self,
        key: impl Into<prela_core::Key>,
        value: impl Into<Value>,
    ) -> Self {
        self.resource.push(KeyValue::new(key, value));
        self
    }

    /// How long the guard's drop may spend flushing (default 5 s).
    pub fn shutdown_timeout(mut self, t: Duration) -> Self {
        self.shutdown_timeout = t;
        self
    }

    /// Reads configuration from `lookup` instead of the process environment
    /// (for tests, or configuration kept elsewhere).
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.lookup = Arc::new(lookup);
        self.process_env = false;
        self
    }

    fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    /// Builds the tracer without installing it globally.
    pub fn build(self) -> Result<(Tracer, Duration), InitError> {
        self.build_named()
            .map(|(tracer, timeout, _)| (tracer, timeout))
    }

    /// Builds the tracer, with the names of the exporters chosen.
    fn build_named(self) -> Result<(Tracer, Duration, Vec<String>), InitError> {
        if self.process_env {
            prela_core::config::check_environment()?;
        }
        let debug = match self.var("PRELA_DEBUG") {
            Some(v) => parse_bool("PRELA_DEBUG", &v)?,
            None => false,
        };
        let resource = self.resource()?;
        let lookup = Arc::clone(&self.lookup);
        let sampler = match self.sampler.clone() {
            Some(s) => Some(s),
            None => prela_sampling::from_lookup(&|k| lookup(k))?,
        };
        let limits = match self.limits {
            Some(l) => l,
            None => SpanLimits::from_lookup(&|k| lookup(k))?,
        };
        let kind = match self.kind {
            Some(k) => Some(k),
            None => match self.var("PRELA_PROCESSOR").as_deref().map(str::trim) {
                None => None,
                Some("simple") => Some(ProcessorKind::Simple),
                Some("batch") => Some(ProcessorKind::Batch),
                Some(other) => {
                    return Err(
                        ConfigError::new("PRELA_PROCESSOR", other, "simple or batch").into(),
                    );
                }
            },
        };
        // Validated even when no batch processor is used: a bad value is
        // an error, not something found out later.
        let batch = match self.batch.clone() {
            Some(b) => b,
            None => BatchConfig::from_lookup(&|k| lookup(k))?,
        };
        let redaction = match self.redaction.clone() {
            Some(r) => r,
            None => match self.var("PRELA_REDACT").as_deref().map(str::trim) {
                None | Some("default") => Some(RedactionRules::default()),
                Some("strict") => Some(RedactionRules::strict()),
                Some("off") => None,
                Some(other) => {
                    return Err(
                        ConfigError::new("PRELA_REDACT", other, "default, strict or off").into(),
                    );
                }
            },
        };
        let wrap = |exporter: Box<dyn SpanExporter>,
                    default: ProcessorKind|
         -> Result<Arc<dyn SpanProcessor>, InitError> {
            Ok(match kind.unwrap_or(default) {
                ProcessorKind::Simple => {
                    let p = SimpleProcessor::new(exporter);
                    Arc::new(match &redaction {
                        Some(r) => p.with_redaction(r.clone()),
                        None => p,
                    })
                }
                ProcessorKind::Batch => {
                    let mut b = BatchProcessor::builder(exporter).config(batch.clone());
                    if let Some(r) = &redaction {
                        b = b.redaction(r.clone());
                    }
                    Arc::new(b.build().map_err(|e| InitError::Exporter {
                        exporter: "batch processor".into(),
                        error: Box::new(e),
                    })?)
                }
            })
        };
        let capture = match self.capture_content {
            Some(c) => c,
            None => match (
                self.var("PRELA_CAPTURE_CONTENT"),
                self.var("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"),
            ) {
                (Some(v), _) => parse_bool("PRELA_CAPTURE_CONTENT", &v)?,
                (None, Some(v)) => {
                    parse_bool("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", &v)?
                }
                (None, None) => false,
            },
        };
        let mut tb = Tracer::builder()
            .resource(resource)
            .limits(limits)
            .capture_content(capture);
        if let Some(s) = sampler {
            tb = tb.shared_sampler(s);
        }
        let mut names = Vec::new();
        if self.exporters.is_empty() && self.processors.is_empty() {
            let (source, list) = match (
                &self.exporter_names,
                self.var("PRELA_EXPORTER"),
                self.var("OTEL_TRACES_EXPORTER"),
            ) {
                (Some(n), _, _) => ("exporter_name".to_owned(), n.clone()),
                (None, Some(v), _) => ("PRELA_EXPORTER".to_owned(), split_names(&v)),
                (None, None, Some(v)) => ("OTEL_TRACES_EXPORTER".to_owned(), split_names(&v)),
                // With an API key, Prela cloud (as the Python SDK does);
                // else the console when built in; else nothing.
                (None, None, None) if self.var("PRELA_API_KEY").is_some() => {
                    ("PRELA_API_KEY".to_owned(), vec!["cloud".to_owned()])
                }
                (None, None, None) => match &self.default_names {
                    Some(n) => ("default_exporter_name".to_owned(), n.clone()),
                    None => ("default".to_owned(), default_exporters()),
                },
            };
            for name in list {
                if let Some((exporter, default)) = self.named_exporter(&source, &name)? {
                    tb = tb.shared_processor(wrap(exporter, default)?);
                    names.push(name);
                }
            }
        }
        for e in self.exporters {
            tb = tb.shared_processor(wrap(e, ProcessorKind::Simple)?);
            names.push("custom".to_owned());
        }
        for p in self.processors {
            // A processor of your own gets the same rules, inline.
            tb = match &redaction {
                Some(r) => tb.processor(Redactor::with_rules(r.clone(), p)),
                None => tb.shared_processor(p),
            };
            names.push("custom processor".to_owned());
        }
        let tracer = tb.build();
        if debug {
            let limits = tracer.limits();
            let exporters = match names.as_slice() {
                [] => "none".to_owned(),
                names => names.join(", "),
            };
            let cut = limits
                .max_attribute_value_length
                .map_or("uncut".to_owned(), |n| format!("cut at {n} characters"));
            report(&format!(
                "prela: service {:?}; exporters: {exporters}; sampler: {}; limits: {} attributes and {} events a span, {} attributes an event, values {cut}",
                tracer.resource().service_name().unwrap_or(""),
                tracer.sampler_description(),
                limits.max_attributes,
                limits.max_events,
                limits.max_attributes_per_event,
            ));
        }
        Ok((tracer, self.shutdown_timeout, names))
    }

    fn resource(&self) -> Result<Resource, InitError> {
        let mut r = Resource::empty();
        r.set(KeyValue::new(SERVICE_NAME, "unknown_service"));
        r.set(KeyValue::new(TELEMETRY_SDK_NAME, "prela"));
        r.set(KeyValue::new(TELEMETRY_SDK_LANGUAGE, "rust"));
        r.set(KeyValue::new(
            TELEMETRY_SDK_VERSION,
            env!("CARGO_PKG_VERSION"),
        ));
        if let Some(attrs) = self.var("OTEL_RESOURCE_ATTRIBUTES") {
            for kv in parse_resource_attributes(&attrs)? {
                r.set(kv);
            }
        }
        if let Some(v) = self.var("OTEL_SERVICE_NAME") {
            r.set(KeyValue::new(SERVICE_NAME, v));
        }
        if let Some(v) = self.var("PRELA_SERVICE_NAME") {
            r.set(KeyValue::new(SERVICE_NAME, v));
        }
        for kv in &self.resource {
            r.set(kv.clone());
        }
        if let Some(name) = &self.service_name {
            r.set(KeyValue::new(SERVICE_NAME, Value::String(name.clone())));
        }
        Ok(r)
    }

    /// The exporter a name stands for, and the processor it gets by default.
    fn named_exporter(&self, source: &str, name: &str) -> Result<Option<NamedExporter>, InitError> {
        // Unused when every exporter feature is on.
        #[cfg_attr(
            all(
                feature = "console",
                feature = "file",
                feature = "otlp",
                feature = "cloud"
            ),
            allow(unused_variables)
        )]
        let missing = |feature| InitError::FeatureMissing {
            source: source.to_owned(),
            exporter: name.to_owned(),
            feature,
        };
        match name {
            "none" => Ok(None),
            "console" => {
                #[cfg(feature = "console")]
                {
                    let verbosity = match self.verbosity {
                        Some(v) => v,
                        None => match self
                            .var("PRELA_CONSOLE_VERBOSITY")
                            .as_deref()
                            .map(str::trim)
                        {
                            None | Some("normal") => prela_export_console::Verbosity::Normal,
                            Some("minimal") => prela_export_console::Verbosity::Minimal,
                            Some("verbose") => prela_export_console::Verbosity::Verbose,
                            Some(other) => {
                                return Err(ConfigError::new(
                                    "PRELA_CONSOLE_VERBOSITY",
                                    other,
                                    "minimal, normal or verbose",
                                )
                                .into());
                            }
                        },
                    };
                    let output = match self.console_output {
                        Some(o) => o,
                        None => match self.var("PRELA_CONSOLE_OUTPUT") {
                            None => prela_export_console::Output::Stdout,
                            Some(v) => {
                                prela_export_console::Output::from_name(&v).ok_or_else(|| {
                                    ConfigError::new("PRELA_CONSOLE_OUTPUT", &v, "stdout or stderr")
                                })?
                            }
                        },
                    };
                    let e = prela_export_console::ConsoleExporter::builder()
                        .verbosity(verbosity)
                        .output(output)
                        .build();
                    Ok(Some((Box::new(e), ProcessorKind::Simple)))
                }
                #[cfg(not(feature = "console"))]
                Err(missing("console"))
            }
            "file" => {
                #[cfg(feature = "file")]
                {
                    let dir = match &self.trace_dir {
                        Some(d) => d.clone(),
                        None => self
                            .var("PRELA_TRACE_DIR")
                            .map_or_else(|| "./traces".into(), Into::into),
                    };
                    let layout = match self.layout {
                        Some(l) => l,
                        None => match self.var("PRELA_FILE_LAYOUT").as_deref().map(str::trim) {
                            None | Some("per-service") => prela_export_file::Layout::PerService,
                            Some("flat") => prela_export_file::Layout::Flat,
                            Some(other) => {
                                return Err(ConfigError::new(
                                    "PRELA_FILE_LAYOUT",
                                    other,
                                    "per-service or flat",
                                )
                                .into());
                            }
                        },
                    };
                    let e = prela_export_file::FileExporter::builder()
                        .directory(dir)
                        .layout(layout)
                        .build()
                        .map_err(|e| InitError::Exporter {
                            exporter: "file".into(),
                            error: Box::new(e),
                        })?;
                    Ok(Some((Box::new(e), ProcessorKind::Batch)))
                }
                #[cfg(not(feature = "file"))]
                Err(missing("file"))
            }
            "otlp" => {
                #[cfg(feature = "otlp")]
                {
                    let lookup = Arc::clone(&self.lookup);
                    let e = prela_export_otlp::OtlpExporter::builder()
                        .env(move |k| lookup(k))
                        .build()
                        .map_err(|e| match e {
                            prela_export_otlp::OtlpError::Config(c) => InitError::Config(c),
                            other => InitError::Exporter {
                                exporter: "otlp".into(),
                                error: Box::new(other),
                            },
                        })?;
                    Ok(Some((Box::new(e), ProcessorKind::Batch)))
                }
                #[cfg(not(feature = "otlp"))]
                Err(missing("otlp"))
            }
            "cloud" => {
                #[cfg(feature = "cloud")]
                {
                    let lookup = Arc::clone(&self.lookup);
                    let e = prela_export_cloud::CloudExporter::builder()
                        .env(move |k| lookup(k))
                        .build()
                        .map_err(|e| match e {
                            prela_export_cloud::CloudError::Config(c) => InitError::Config(c),
                            other => InitError::Exporter {
                                exporter: "cloud".into(),
                                error: Box::new(other),
                            },
                        })?;
                    Ok(Some((Box::new(e), ProcessorKind::Batch)))
                }
                #[cfg(not(feature = "cloud"))]
                Err(missing("cloud"))
            }
            other => {
                let variable = if source == "default" {
                    "exporter_name"
                } else {
                    source
                };
                Err(ConfigError::new(
                    variable,
                    other,
                    format!("one or more of {KNOWN_EXPORTERS}, comma-separated"),
                )
                .into())
            }
        }
    }

    /// Builds the tracer, makes it the global tracer ([`crate::tracer`]), and
    /// returns a guard that flushes and shuts it down when dropped.
    pub fn install(self) -> Result<Guard, InitError> {
        let (tracer, timeout, exporters) = self.build_named()?;
        global::set(tracer.clone());
        Ok(Guard {
            tracer,
            timeout,
            exporters,
            done: false,
        })
    }
}

fn default_exporters() -> Vec<String> {
    if cfg!(feature = "console") {
        vec!["console".to_owned()]
    } else {
        Vec::new()
    }
}

fn split_names(s: &str) -> Vec<String> {
    s.split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Parses `OTEL_RESOURCE_ATTRIBUTES`: `key1=value1,key2=value2`, values
/// percent-decoded.
pub fn parse_resource_attributes(s: &str) -> Result<Vec<KeyValue>, ConfigError> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let bad = || {
            ConfigError::new(
                "OTEL_RESOURCE_ATTRIBUTES",
                s,
                format!(
                    "comma-separated key=value pairs with percent-encoded values (at {item:?})"
                ),
            )
        };
        let (k, v) = item.split_once('=').ok_or_else(bad)?;
        let k = k.trim();
        if k.is_empty() {
            return Err(bad());
        }
        let v = percent_decode(v.trim()).ok_or_else(bad)?;
        out.push(KeyValue::new(k.to_owned(), v));
    }
    Ok(out)
}

/// One line for the user: through `tracing` if a subscriber is set, else on
/// standard error.
pub(crate) fn report(line: &str) {
    if tracing::dispatcher::has_been_set() {
        tracing::warn!(target: "prela", "{line}");
    } else {
        #[allow(clippy::print_stderr)] // the documented fallback when no subscriber is set
        {
            eprintln!("{line}");
        }
    }
}

/// Returned by `install`: flushes and shuts the tracer down when dropped,
/// within the configured timeout, and says in one line if spans were not
/// exported.
#[must_use = "dropping the guard shuts tracing down at once"]
#[derive(Debug)]
pub struct Guard {
    tracer: Tracer,
    timeout: Duration,
    exporters: Vec<String>,
    done: bool,
}

impl Guard {
    /// The installed tracer.
    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    /// The exporters chosen, by name (`console`, `file`, `otlp`, `cloud`,
    /// `custom`, `custom processor`), in the order they were set up.
    pub fn exporters(&self) -> &[String] {
        &self.exporters
    }

    /// Exports everything ended so far, within `timeout`.
    pub fn force_flush(&self, timeout: Duration) -> Result<(), prela_core::ExportError> {
        self.tracer.force_flush(prela_core::deadline_in(timeout))
    }

    /// Flushes and shuts down now, within the guard's timeout, returning what
    /// went wrong (dropping the guard does the same and reports it).
    pub fn shutdown(mut self) -> Result<(), prela_core::ExportError> {
        self.done = true;
        global::clear(&self.tracer);
        self.tracer.shutdown(prela_core::deadline_in(self.timeout))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        global::clear(&self.tracer);
        if let Err(e) = self.tracer.shutdown(prela_core::deadline_in(self.timeout)) {
            report(&format!("prela: at shutdown: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_attributes() {
        let kvs =
            parse_resource_attributes("service.name=svc, deployment.environment=prod%20eu,a=b%3Dc")
                .unwrap();
        assert_eq!(kvs[1], KeyValue::new("deployment.environment", "prod eu"));
        assert_eq!(kvs[2], KeyValue::new("a", "b=c"));
        for bad in ["novalue", "=x", "k=%zz"] {
            let e = parse_resource_attributes(bad).unwrap_err();
            assert_eq!(e.variable(), "OTEL_RESOURCE_ATTRIBUTES");
        }
    }
}
