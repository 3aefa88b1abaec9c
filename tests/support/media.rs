//! What the media tests share: the fake with its media host, a stack
//! and [`Media`] over it, folders to download into, files of any length.
#![allow(dead_code)]

use std::path::PathBuf;

use bytes::Bytes;
use tower::Layer;
use tower_whatsapp_auth::media::Media;
use tower_whatsapp_auth::WhatsAppAuth;

use crate::common::fake_graph::{FakeConfig, FakeGraph};
use crate::common::sender::{https_client, HttpsClient};

pub type Stack = WhatsAppAuth<HttpsClient>;

pub const PHONE: &str = "106540352242922";

pub async fn start(config: FakeConfig) -> (FakeGraph, Media<Stack>) {
    let fake = FakeGraph::start(config.clone()).await;
    let host = fake.start_media_host().await;
    let stack = fake
        .layer(&config)
        .media_host(host.to_string())
        .layer(https_client());
    (fake, Media::new(stack).phone_number_id(PHONE))
}

/// A fresh folder under the system's temporary one.
pub fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twa-media-{name}-{:x}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The folder's entries (a partial file would show here).
pub fn entries(dir: &PathBuf) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

pub fn file_of(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(seed) ^ seed)
        .collect()
}
