//! Rendering `{{ name }}` templates of a component for one environment (M2.4).

use std::collections::BTreeMap;

use super::error::{ConfigError, ConfigErrors, TemplateLocation};
use super::rendered::{RenderedConfig, RenderedFile};
use crate::id::ComponentId;
use crate::model::{Component, Environment, ParamValue, Platform};

/// Names every template may use besides the environment's parameters. An environment may not
/// define a parameter with one of these names.
pub const BUILTINS: [&str; 4] = ["env.name", "env.tier", "component.id", "release.version"];

/// The longest placeholder text quoted in an error, in characters.
const QUOTE_LIMIT: usize = 60;

/// Renders every template of `component` with `environment`'s parameters and the built-ins
/// (`env.name`, `env.tier`, `component.id`, and `release.version` when `version` is given).
///
/// Secret parameters stay references in the result. Returns every error found, in template,
/// line and column order.
pub fn render_component(
    platform: &Platform,
    component: &Component,
    environment: &Environment,
    version: Option<&semver::Version>,
) -> Result<RenderedConfig, ConfigErrors> {
    let _ = platform; // kept in the signature for platform-wide defaults later
    let mut errors = reserved_parameters(environment);
    let rendered = render_templates(component, environment, version, &mut errors);
    if errors.is_empty() {
        Ok(rendered)
    } else {
        Err(ConfigErrors::new(errors))
    }
}

/// Renders every component of the platform for `environment` (components without templates
/// get an empty configuration). Returns every error found, ordered by component id.
pub fn render_environment(
    platform: &Platform,
    environment: &Environment,
) -> Result<BTreeMap<ComponentId, RenderedConfig>, ConfigErrors> {
    render_environment_for(platform, environment, None)
}

/// Like [`render_environment`], with a release version for `{{ release.version }}`.
pub fn render_environment_for(
    platform: &Platform,
    environment: &Environment,
    version: Option<&semver::Version>,
) -> Result<BTreeMap<ComponentId, RenderedConfig>, ConfigErrors> {
    let mut errors = reserved_parameters(environment);
    let mut components: Vec<&Component> = platform.components.iter().collect();
    components.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = BTreeMap::new();
    for component in components {
        let rendered = render_templates(component, environment, version, &mut errors);
        out.insert(component.id.clone(), rendered);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigErrors::new(errors))
    }
}

fn reserved_parameters(environment: &Environment) -> Vec<ConfigError> {
    environment
        .parameters
        .keys()
        .filter(|k| BUILTINS.contains(&k.as_str()))
        .map(|k| ConfigError::ReservedParameter {
            environment: environment.name.clone(),
            name: k.clone(),
        })
        .collect()
}

/// What a placeholder resolves to.
enum Value<'a> {
    Text(String),
    Param(&'a ParamValue),
}

fn render_templates(
    component: &Component,
    environment: &Environment,
    version: Option<&semver::Version>,
    errors: &mut Vec<ConfigError>,
) -> RenderedConfig {
    let mut config = RenderedConfig::new();
    for (name, text) in &component.config {
        let mut file = RenderedFile::default();
        for piece in parse(text) {
            let location = |line, column| TemplateLocation {
                component: component.id.clone(),
                template: name.clone(),
                line,
                column,
            };
            match piece {
                Piece::Text(t) => file.push_text(t),
                Piece::Unclosed { rest, line, column } => {
                    errors.push(ConfigError::UnclosedPlaceholder {
                        location: location(line, column),
                        placeholder: quote(rest),
                    })
                }
                Piece::Placeholder {
                    raw,
                    name: param,
                    line,
                    column,
                } => {
                    let placeholder = quote(raw);
                    let value = match param {
                        "" => {
                            errors.push(ConfigError::EmptyPlaceholder {
                                location: location(line, column),
                                placeholder,
                            });
                            continue;
                        }
                        "env.name" => Value::Text(environment.name.to_string()),
                        "env.tier" => Value::Text(environment.tier.as_str().to_owned()),
                        "component.id" => Value::Text(component.id.to_string()),
                        "release.version" => match version {
                            Some(v) => Value::Text(v.to_string()),
                            None => {
                                errors.push(ConfigError::ReleaseVersionUnavailable {
                                    location: location(line, column),
                                    placeholder,
                                });
                                continue;
                            }
                        },
                        _ => match environment.parameters.get(param) {
                            Some(v) => Value::Param(v),
                            None => {
                                errors.push(ConfigError::UnknownParameter {
                                    location: location(line, column),
                                    placeholder,
                                    name: param.to_owned(),
                                    environment: environment.name.clone(),
                                });
                                continue;
                            }
                        },
                    };
                    match value {
                        Value::Text(t) => file.push_text(&t),
                        Value::Param(ParamValue::Secret(r)) => file.push_secret(r.clone()),
                        Value::Param(v) => file.push_text(&v.to_string()),
                    }
                }
            }
        }
        config.insert(name.clone(), file);
    }
    config
}

/// Shortens quoted template text to [`QUOTE_LIMIT`] characters.
fn quote(text: &str) -> String {
    let text = text.trim_end_matches(['\n', '\r']);
    if text.chars().count() <= QUOTE_LIMIT {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(QUOTE_LIMIT).collect();
        s.push('…');
        s
    }
}

/// One piece of a parsed template.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    /// Literal text.
    Text(&'a str),
    /// `{{ name }}`: the whole placeholder and the trimmed name.
    Placeholder {
        raw: &'a str,
        name: &'a str,
        line: u32,
        column: u32,
    },
    /// A `{{` with no `}}` after it on its line; `rest` runs to the end of the line.
    Unclosed {
        rest: &'a str,
        line: u32,
        column: u32,
    },
}

/// Splits a template into text and placeholders. `{{` always opens a placeholder, which must
/// close with `}}` on the same line; there is no escape.
fn parse(template: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    for (index, line) in template.split_inclusive('\n').enumerate() {
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let mut pos = 0;
        while let Some(found) = line[pos..].find("{{") {
            let open = pos + found;
            if open > pos {
                pieces.push(Piece::Text(&line[pos..open]));
            }
            let column = u32::try_from(line[..open].chars().count() + 1).unwrap_or(u32::MAX);
            let inner_start = open + 2;
            match line[inner_start..].find("}}") {
                Some(len) => {
                    let close = inner_start + len + 2;
                    pieces.push(Piece::Placeholder {
                        raw: &line[open..close],
                        name: line[inner_start..inner_start + len].trim(),
                        line: line_no,
                        column,
                    });
                    pos = close;
                }
                None => {
                    pieces.push(Piece::Unclosed {
                        rest: &line[open..],
                        line: line_no,
                        column,
                    });
                    pos = line.len();
                }
            }
        }
        if pos < line.len() {
            pieces.push(Piece::Text(&line[pos..]));
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_and_placeholders() {
        let p = parse("A={{ a }}\nB={{b}}x{{  c.d  }}\n");
        assert_eq!(
            p,
            vec![
                Piece::Text("A="),
                Piece::Placeholder {
                    raw: "{{ a }}",
                    name: "a",
                    line: 1,
                    column: 3
                },
                Piece::Text("\n"),
                Piece::Text("B="),
                Piece::Placeholder {
                    raw: "{{b}}",
                    name: "b",
                    line: 2,
                    column: 3
                },
                Piece::Text("x"),
                Piece::Placeholder {
                    raw: "{{  c.d  }}",
                    name: "c.d",
                    line: 2,
                    column: 9
                },
                Piece::Text("\n"),
            ]
        );
    }

    #[test]
    fn unclosed_stops_at_line_end_and_scanning_continues() {
        let p = parse("ä={{ x }\nB={{ y }}");
        assert_eq!(
            p,
            vec![
                Piece::Text("ä="),
                Piece::Unclosed {
                    rest: "{{ x }\n",
                    line: 1,
                    column: 3
                },
                Piece::Text("B="),
                Piece::Placeholder {
                    raw: "{{ y }}",
                    name: "y",
                    line: 2,
                    column: 3
                },
            ]
        );
    }

    #[test]
    fn lone_closing_braces_are_text() {
        assert_eq!(parse("a }} b"), vec![Piece::Text("a }} b")]);
    }

    #[test]
    fn long_placeholders_are_shortened_in_errors() {
        let long = format!("{{{{ {}", "x".repeat(200));
        let q = quote(&long);
        assert_eq!(q.chars().count(), QUOTE_LIMIT + 1);
        assert!(q.ends_with('…'));
    }
}
