//! Typed mirrors of the corpus documents: the structs a game would derive
//! `Serialize` / `Deserialize` for, field for field, so the typed serde paths
//! (`sdm_codec::to_string(&T)` / `from_str::<T>` against
//! `serde_json::to_string(&T)` / `from_str::<T>`) are measured on the same
//! data as the value paths.
//!
//! The profiles (`profile_small`, `profile_medium`) are a [`Profile`] with
//! nested inventories and quests; the tycoon plot (`plot_large`) is a
//! [`Plot`] with its parts. Maps keep their order ([`IndexMap`]), so a typed
//! document writes the same bytes as its [`Value`](sdm_codec::Value).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// A player profile (`profile_small.json`, `profile_medium.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Profile {
    /// Player level.
    pub level: u32,
    /// Coins (beyond 2^32).
    pub coins: u64,
    /// Gems.
    pub gems: u64,
    /// Experience points (fractional).
    pub experience: f64,
    /// Rebirth count.
    pub rebirths: u32,
    /// Items held.
    pub inventory: Vec<Item>,
    /// Developer products bought: product id (as text) to count.
    pub developer_products: IndexMap<String, u32>,
    /// Client settings.
    pub settings: Settings,
    /// Lifetime statistics.
    pub stats: Stats,
    /// Quest progress.
    pub quests: Vec<Quest>,
    /// Unix time of the last login.
    pub last_login: u64,
    /// Whether the player is banned.
    pub banned: bool,
    /// A free-text note (non-ASCII).
    pub note: String,
}

/// One inventory item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Item {
    /// Item id.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Stack size.
    pub count: u32,
    /// Durability (fractional).
    pub durability: f64,
    /// Whether it is equipped.
    pub equipped: bool,
    /// Tags (often empty).
    pub tags: Vec<String>,
}

/// Client settings of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Settings {
    /// Music on.
    pub music: bool,
    /// Sound effects on.
    pub sfx: bool,
    /// Graphics quality.
    pub quality: u8,
    /// Volume, 0 to 1.
    pub volume: f64,
    /// Language tag.
    pub language: String,
}

/// Lifetime statistics of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Stats {
    /// Seconds played.
    pub play_time: u64,
    /// Kills.
    pub kills: u64,
    /// Deaths.
    pub deaths: u64,
    /// Distance travelled (fractional).
    pub distance: f64,
}

/// One quest's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Quest {
    /// Quest id.
    pub id: u32,
    /// Progress, 0 to 1.
    pub progress: f64,
    /// Finished.
    pub done: bool,
    /// Quest name.
    pub name: String,
}

/// A tycoon plot (`plot_large.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Plot {
    /// The owner's user id.
    pub owner: u64,
    /// Save format version.
    pub version: u32,
    /// The placed parts.
    pub parts: Vec<Part>,
}

/// One placed part of a plot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Part {
    /// Part type name.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Position (fractional studs).
    pub position: [f64; 3],
    /// Rotation in degrees (multiples of 90).
    pub rotation: [u16; 3],
    /// RGB colour.
    pub color: [u8; 3],
    /// Upgrade level.
    pub level: u8,
    /// Whether it is powered.
    pub powered: bool,
}

/// A corpus document as its typed mirror.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// `profile_small` or `profile_medium`.
    Profile(Box<Profile>),
    /// `plot_large`.
    Plot(Box<Plot>),
}

impl Typed {
    /// Parses a document's JSON text into its mirror: a plot when it has
    /// `Parts`, otherwise a profile.
    pub fn from_json(json: &str) -> serde_json::Result<Typed> {
        if json.contains("\"Parts\":") {
            serde_json::from_str(json).map(|p| Typed::Plot(Box::new(p)))
        } else {
            serde_json::from_str(json).map(|p| Typed::Profile(Box::new(p)))
        }
    }
}

/// Calls a generic function with the mirror's concrete type, so one piece
/// of code measures or checks either kind of document.
#[macro_export]
macro_rules! with_typed {
    ($typed:expr, |$t:ident| $body:expr) => {
        match $typed {
            $crate::typed::Typed::Profile($t) => {
                let $t: &$crate::typed::Profile = $t;
                $body
            }
            $crate::typed::Typed::Plot($t) => {
                let $t: &$crate::typed::Plot = $t;
                $body
            }
        }
    };
}
