//! The one price table (reference §11 "cost"): Lambda's, API Gateway's and each model's prices,
//! built in (`templates/prices.toml`), overridable by a file (`--prices`) and, for models, by the
//! config's `[model_prices]`. `cost` and `metrics` price with it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const DEFAULT_PRICES: &str = include_str!("../templates/prices.toml");

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub lambda_request_per_million: f64,
    pub lambda_gb_second_x86_64: f64,
    pub lambda_gb_second_arm64: f64,
    pub api_gateway_rest_per_million: f64,
    pub snapstart_cache_gb_second: f64,
    pub snapstart_restore_gb: f64,
}

/// One model's price, USD per million tokens.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl ModelPrice {
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        input_tokens as f64 / 1e6 * self.input_per_million
            + output_tokens as f64 / 1e6 * self.output_per_million
    }
}

/// Every price in one table: Lambda's and API Gateway's, and each model's by id.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    pub prices: Prices,
    pub models: std::collections::BTreeMap<String, ModelPrice>,
}

/// The prefixes of cross-region inference profile ids (`us.anthropic...`), priced as the model.
const PROFILE_PREFIXES: [&str; 7] = ["global.", "us.", "eu.", "apac.", "jp.", "au.", "us-gov."];

impl PriceTable {
    /// The built-in table, `--prices FILE` over it, then the config's `[model_prices]`.
    pub fn load(
        path: Option<&Path>,
        config_models: Option<&std::collections::BTreeMap<String, ModelPrice>>,
        config_origin: &str,
    ) -> Result<PriceTable> {
        let (prices, mut models) = load_prices(path)?;
        for (id, price) in config_models.into_iter().flatten() {
            check_model_price(id, price, config_origin)?;
            models.insert(id.clone(), *price);
        }
        Ok(PriceTable { prices, models })
    }

    /// The price of `model_id` (an id, an inference profile's id or ARN), with the key it was
    /// found under; `None`: not in the table (never guessed).
    pub fn model(&self, model_id: &str) -> Option<(&str, ModelPrice)> {
        let base = model_id.rsplit('/').next().unwrap_or(model_id);
        let mut candidates = vec![model_id, base];
        candidates.extend(PROFILE_PREFIXES.iter().filter_map(|p| base.strip_prefix(p)));
        candidates
            .into_iter()
            .find_map(|id| self.models.get_key_value(id))
            .map(|(key, price)| (key.as_str(), *price))
    }
}

fn check_model_price(id: &str, price: &ModelPrice, origin: &str) -> Result<()> {
    for (what, value) in [
        ("input_per_million", price.input_per_million),
        ("output_per_million", price.output_per_million),
    ] {
        if !(value.is_finite() && value >= 0.0) {
            return Err(Error::Config {
                location: origin.to_string(),
                message: format!(
                    "model `{id}`: `{what}` = {value} is not a price: give a number of dollars, 0 or more"
                ),
                hint: None,
            });
        }
    }
    Ok(())
}

impl Prices {
    pub fn load(path: Option<&Path>) -> Result<Prices> {
        load_prices(path).map(|(prices, _)| prices)
    }
}

/// The built-in prices with a user's file over them (which may override only some).
fn load_prices(
    path: Option<&Path>,
) -> Result<(Prices, std::collections::BTreeMap<String, ModelPrice>)> {
    {
        let (text, origin) = match path {
            Some(path) => (
                crate::files::read_user_text(path).map_err(|reason| {
                    Error::usage("--prices", format!("{}: {reason}", path.display()))
                })?,
                path.display().to_string(),
            ),
            None => (DEFAULT_PRICES.to_string(), "built-in prices".to_string()),
        };
        // A user's file may override only some prices: start from the defaults.
        let mut table: toml::Table =
            toml::from_str(DEFAULT_PRICES).map_err(|e| Error::internal(e.to_string()))?;
        let mut overrides: toml::Table = toml::from_str(&text).map_err(|e| Error::Config {
            location: origin.clone(),
            message: e.message().to_string(),
            hint: None,
        })?;
        let mut models: std::collections::BTreeMap<String, ModelPrice> = table
            .remove("models")
            .map(|m| m.try_into())
            .transpose()
            .map_err(|e: toml::de::Error| Error::internal(e.to_string()))?
            .unwrap_or_default();
        if let Some(user_models) = overrides.remove("models") {
            let user_models: std::collections::BTreeMap<String, ModelPrice> =
                user_models.try_into().map_err(|e: toml::de::Error| Error::Config {
                    location: origin.clone(),
                    message: format!("[models]: {}", e.message()),
                    hint: Some("each model: [models.\"MODEL-ID\"] with input_per_million and output_per_million".into()),
                })?;
            for (id, price) in &user_models {
                check_model_price(id, price, &origin)?;
            }
            models.extend(user_models);
        }
        table.extend(overrides);
        let prices: Prices = toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| Error::Config {
            location: origin.clone(),
            message: e.message().to_string(),
            hint: Some("keys: lambda_request_per_million, lambda_gb_second_x86_64, lambda_gb_second_arm64, api_gateway_rest_per_million".into()),
        })?;
        // TOML has nan and inf: a price must be a number of dollars ("$NaN" was printed).
        let bad = toml::Value::try_from(prices)
            .ok()
            .and_then(|v| v.as_table().cloned())
            .into_iter()
            .flatten()
            .find(|(_, v)| !v.as_float().is_some_and(|f| f.is_finite() && f >= 0.0));
        if let Some((key, value)) = bad {
            return Err(Error::Config {
                location: origin,
                message: format!(
                    "`{key}` = {value} is not a price: give a number of dollars, 0 or more"
                ),
                hint: None,
            });
        }
        Ok((prices, models))
    }
}
