//! Who a window belongs to: a device id and its asset-register entry, shared by every
//! window of the device instead of copied into each (a 100,000-device fleet holds
//! hundreds of thousands of windows).

use std::sync::Arc;

use kerbside_reading::{Asset, AssetAttrs, EnrichedReading};
use rustc_hash::FxHashMap;

/// A device and its asset, cheap to clone: one pointer (every window state of the
/// device holds one, so its size counts a million times over at 100,000 devices).
#[derive(Debug, Clone, PartialEq)]
pub struct Identity(Arc<Inner>);

#[derive(Debug, PartialEq)]
struct Inner {
    device_id: Arc<str>,
    asset: Arc<Asset>,
}

impl Identity {
    /// The identity of `r`'s device (not shared: see [`Identities`]).
    pub fn of(r: &EnrichedReading) -> Self {
        Self(Arc::new(Inner {
            device_id: r.reading.device_id.as_str().into(),
            asset: Arc::clone(&r.asset),
        }))
    }

    /// The device id.
    pub fn device_id(&self) -> &str {
        &self.0.device_id
    }

    /// The device id, shared.
    pub fn device_arc(&self) -> Arc<str> {
        Arc::clone(&self.0.device_id)
    }

    /// The device's ward.
    pub fn ward(&self) -> &str {
        &self.0.asset.ward
    }

    /// Where the device is, `(lat, lon)` in degrees (WGS84).
    pub fn location(&self) -> (f64, f64) {
        (self.0.asset.lat, self.0.asset.lon)
    }

    /// The kind-specific attributes.
    pub fn attrs(&self) -> &AssetAttrs {
        &self.0.asset.attrs
    }
}

/// One [`Identity`] per device, handed to every window of it. A reading whose asset
/// differs from the one held (the register changed) replaces it.
#[derive(Debug, Default)]
pub struct Identities(FxHashMap<Arc<str>, Identity>);

impl Identities {
    /// The shared identity of `r`'s device.
    pub fn get(&mut self, r: &EnrichedReading) -> Identity {
        if let Some(id) = self.0.get(r.reading.device_id.as_str())
            && (Arc::ptr_eq(&id.0.asset, &r.asset) || *id.0.asset == *r.asset)
        {
            return id.clone();
        }
        let id = Identity::of(r);
        self.0.insert(id.device_arc(), id.clone());
        id
    }

    /// The shared id of device `id` if it is known (a new one otherwise, not kept:
    /// a device only ever refused has no asset to hold).
    pub fn device(&self, id: &str) -> Arc<str> {
        self.0
            .get(id)
            .map_or_else(|| id.into(), Identity::device_arc)
    }

    /// Devices known.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is known.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
