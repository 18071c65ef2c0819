//! From a reading to the bytes a device (or its network server) publishes,
//! spoiled on purpose when a fault says so.

use base64::Engine as _;
use kerbside_reading::{DeviceId, Measurement, Reading};

use crate::fleet::{Device, Fleet, Uplink};
use crate::rng::{SimRng, index, uniform, unit};

/// Size of an oversize payload's padding: comfortably over the 256 KiB limit and
/// under the broker's 1 MiB packet limit.
const OVERSIZE_MIN_BYTES: usize = 270 * 1024;

/// The payload for `reading` from `device`. `spoof` names another device the
/// payload claims to come from.
pub(crate) fn payload(
    fleet: &Fleet,
    device: &Device,
    reading: &Reading,
    spoof: Option<&DeviceId>,
) -> Vec<u8> {
    match &device.uplink {
        Uplink::Kerbside => kerbside_payload(reading, spoof.unwrap_or(&reading.device_id)),
        Uplink::ChirpStack { dev_eui } => {
            let eui = match spoof {
                // The envelope claims another radio than the topic's.
                Some(_) => format!(
                    "{:016x}",
                    u64::from_str_radix(dev_eui, 16).unwrap_or(0) ^ 0x00ff_0000
                ),
                None => dev_eui.clone(),
            };
            let mut o = Vec::with_capacity(1024);
            let ts = rfc3339_ms(reading.ts.millis());
            let ts = std::str::from_utf8(&ts).expect("ASCII");
            let sc = &fleet.scenario;
            o.extend_from_slice(b"{\"deduplicationId\":\"");
            o.extend_from_slice(uuid(reading.seq.0, device.index).as_bytes());
            o.extend_from_slice(b"\",\"time\":\"");
            o.extend_from_slice(ts.as_bytes());
            o.extend_from_slice(b"\",\"deviceInfo\":{\"tenantId\":\"52f14cd4-c6f1-4fbd-8f87-4025e1d49242\",\"tenantName\":");
            json_str(&mut o, &sc.town.name);
            o.extend_from_slice(b",\"applicationId\":");
            json_str(&mut o, &fleet.chirpstack_application);
            o.extend_from_slice(b",\"applicationName\":");
            json_str(&mut o, &sc.bins.lorawan_application);
            o.extend_from_slice(b",\"deviceProfileId\":\"0d5d1d5c-8e0b-4a4e-9b47-3b5a1c2f7e11\",\"deviceProfileName\":\"smart-bin-ultrasonic\",\"deviceName\":");
            json_str(&mut o, device.id.as_str());
            o.extend_from_slice(b",\"devEui\":");
            json_str(&mut o, &eui);
            let rssi = -60 - i64::from(device.index % 50);
            let rest = format!(
                ",\"deviceClassEnabled\":\"CLASS_A\",\"tags\":{{}}}},\"devAddr\":\"{:08x}\",\"adr\":true,\"dr\":5,\
                 \"fCnt\":{},\"fPort\":2,\"confirmed\":false,\"data\":\"{}\",\"object\":",
                crate::rng::mix64(u64::from(device.index)) as u32,
                reading.seq.0,
                frame(reading)
            );
            o.extend_from_slice(rest.as_bytes());
            fields(&mut o, reading);
            let rest = format!(
                ",\"rxInfo\":[{{\"gatewayId\":\"b827ebfffe6a1c02\",\"uplinkId\":{},\"rssi\":{rssi},\"snr\":7.5,\
                 \"channel\":{},\"context\":\"AAAAAA==\"}}],\"txInfo\":{{\"frequency\":868100000,\
                 \"modulation\":{{\"lora\":{{\"bandwidth\":125000,\"spreadingFactor\":7,\"codeRate\":\"CR_4_5\"}}}}}}}}",
                reading.seq.0 % 65_536,
                device.index % 8
            );
            o.extend_from_slice(rest.as_bytes());
            o
        }
        Uplink::TheThingsStack => {
            let id = spoof.unwrap_or(&device.id);
            let ts = rfc3339_ms(reading.ts.millis());
            let ts = std::str::from_utf8(&ts).expect("ASCII");
            let addr = crate::rng::mix64(u64::from(device.index)) as u32;
            let mut o = Vec::with_capacity(1024);
            o.extend_from_slice(b"{\"end_device_ids\":{\"device_id\":");
            json_str(&mut o, id.as_str());
            o.extend_from_slice(b",\"application_ids\":{\"application_id\":");
            json_str(&mut o, &fleet.scenario.bins.lorawan_application);
            let rest = format!(
                "}},\"dev_eui\":\"70B3D57ED1{:06X}\",\"dev_addr\":\"{addr:08X}\"}},\
                 \"correlation_ids\":[\"as:up:{}\"],\"received_at\":\"{ts}\",\
                 \"uplink_message\":{{\"f_port\":2,\"f_cnt\":{},\"frm_payload\":\"{}\",\"decoded_payload\":",
                device.index,
                uuid(reading.seq.0, device.index),
                reading.seq.0,
                frame(reading)
            );
            o.extend_from_slice(rest.as_bytes());
            fields(&mut o, reading);
            let rssi = -60 - i64::from(device.index % 50);
            let rest = format!(
                ",\"rx_metadata\":[{{\"gateway_ids\":{{\"gateway_id\":\"council-gw-01\"}},\"rssi\":{rssi},\
                 \"channel_rssi\":{rssi},\"snr\":7.2}}],\"settings\":{{\"data_rate\":{{\"lora\":\
                 {{\"bandwidth\":125000,\"spreading_factor\":7}}}},\"frequency\":\"868100000\"}},\
                 \"received_at\":\"{ts}\",\"consumed_airtime\":\"0.061696s\"}}}}"
            );
            o.extend_from_slice(rest.as_bytes());
            o
        }
    }
}

/// Appends `s` as a JSON string.
fn json_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("writing to memory");
}

/// Writes `ms` as RFC 3339 in UTC with milliseconds (`2026-11-22T09:15:00.000Z`),
/// exactly as [`kerbside_reading::EventTime::to_rfc3339`] does, without the
/// general formatting machinery (it runs twice per message).
pub(crate) fn rfc3339_ms(ms: i64) -> [u8; 24] {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, sec, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, v: i64, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, h, 2);
    put(14, m, 2);
    put(17, sec, 2);
    put(20, milli, 3);
    b
}

/// The kerbside payload of `reading` as sent by `device_id`: byte for byte what
/// [`Reading::to_payload`] gives (a test holds it to that), built without serde's
/// flattening and with the fast timestamp.
pub(crate) fn kerbside_payload(reading: &Reading, device_id: &DeviceId) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"device_id\":");
    serde_json::to_writer(&mut out, device_id.as_str()).expect("writing to memory");
    out.extend_from_slice(b",\"ts\":\"");
    out.extend_from_slice(&rfc3339_ms(reading.ts.millis()));
    out.extend_from_slice(b"\",\"seq\":");
    out.extend_from_slice(reading.seq.0.to_string().as_bytes());
    let at = out.len();
    match &reading.data {
        Measurement::Bin(m) => serde_json::to_writer(&mut out, m),
        Measurement::Traffic(m) => serde_json::to_writer(&mut out, m),
        Measurement::Air(m) => serde_json::to_writer(&mut out, m),
        Measurement::Footfall(m) => serde_json::to_writer(&mut out, m),
    }
    .expect("writing to memory");
    // The measurement is an object: splice its members in after `seq`.
    if out.len() - at == 2 {
        out.truncate(at);
        out.push(b'}');
    } else {
        out[at] = b',';
    }
    out
}

/// Appends the decoded payload a LoRaWAN codec yields: the kind's fields only
/// (the envelope carries device, time and frame counter).
fn fields(out: &mut Vec<u8>, reading: &Reading) {
    match &reading.data {
        Measurement::Bin(m) => serde_json::to_writer(out, m),
        Measurement::Traffic(m) => serde_json::to_writer(out, m),
        Measurement::Air(m) => serde_json::to_writer(out, m),
        Measurement::Footfall(m) => serde_json::to_writer(out, m),
    }
    .expect("readings serialise")
}

/// The raw LoRaWAN frame a bin sensor would send (fill ×2, temperature +50,
/// battery mV big-endian, flags), base64 as network servers forward it.
fn frame(reading: &Reading) -> String {
    let bytes = match &reading.data {
        Measurement::Bin(b) => {
            let mv = (b.battery_v.unwrap_or(0.0) * 1000.0).clamp(0.0, 65_535.0) as u16;
            let flags = u8::from(b.tilt == Some(true)) | (u8::from(b.fire == Some(true)) << 1);
            vec![
                (b.fill_pct.clamp(0.0, 127.5) * 2.0) as u8,
                (b.temp_c.unwrap_or(0.0) + 50.0).clamp(0.0, 255.0) as u8,
                (mv >> 8) as u8,
                mv as u8,
                flags,
            ]
        }
        _ => vec![0],
    };
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn uuid(a: u64, b: u32) -> String {
    let x = crate::rng::mix64(a ^ (u64::from(b) << 40));
    let y = crate::rng::mix64(x);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xfff,
        0x8000 | ((y >> 48) & 0x3fff),
        y & 0xffff_ffff_ffff
    )
}

/// Pushes one of the reading's values out of its physical range.
pub(crate) fn spoil_range(m: &mut Measurement, rng: &mut SimRng) {
    let high = unit(rng) < 0.5;
    match m {
        Measurement::Bin(b) => {
            b.fill_pct = if high {
                uniform(rng, 105.0, 250.0)
            } else {
                -uniform(rng, 1.0, 30.0)
            };
            b.fill_pct = crate::rng::round(b.fill_pct, 1);
        }
        Measurement::Traffic(t) => {
            let lane = index(rng, t.lanes.len());
            if high {
                t.lanes[lane].mean_speed_kph = crate::rng::round(uniform(rng, 260.0, 900.0), 1);
            } else {
                t.lanes[lane].occupancy_pct = crate::rng::round(uniform(rng, 101.0, 400.0), 1);
            }
        }
        Measurement::Air(a) => {
            let v = if high {
                uniform(rng, 5_001.0, 50_000.0)
            } else {
                -uniform(rng, 1.0, 50.0)
            };
            let v = Some(crate::rng::round(v, 1));
            // Spoil a channel that is present (there is always one).
            if a.pm25_ugm3.is_some() {
                a.pm25_ugm3 = v;
            } else {
                a.no2_ugm3 = v;
            }
        }
        Measurement::Footfall(f) => {
            f.interval_s = if high {
                86_401 + index(rng, 100_000) as u32
            } else {
                0
            }
        }
    }
}

/// Breaks the JSON: cuts it short, or leaves a trailing comma before the last brace.
pub(crate) fn spoil_json(payload: &mut Vec<u8>, rng: &mut SimRng) {
    if unit(rng) < 0.5 {
        let cut = 1 + index(rng, 12.min(payload.len() / 3).max(1));
        payload.truncate(payload.len() - cut);
    } else if let Some(p) = payload.iter().rposition(|&b| b == b'}') {
        payload.insert(p, b',');
    }
}

/// Slips a raw MAC address into a footfall payload's `ids`, as a badly configured
/// gateway does.
pub(crate) fn add_raw_mac(payload: &mut Vec<u8>, rng: &mut SimRng) {
    let b: [u8; 6] = std::array::from_fn(|_| index(rng, 256) as u8);
    let mac = match index(rng, 3) {
        0 => format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        ),
        1 => format!(
            "{:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        ),
        _ => format!(
            "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        ),
    };
    let key = b"\"ids\":[";
    let Some(at) = payload.windows(key.len()).position(|w| w == key) else {
        return;
    };
    let at = at + key.len();
    let empty = payload.get(at) == Some(&b']');
    let insert = if empty {
        format!("\"{mac}\"")
    } else {
        format!("\"{mac}\",")
    };
    payload.splice(at..at, insert.into_bytes());
}

/// Pads the payload past the size limit with a diagnostics dump before its last brace.
pub(crate) fn make_oversize(payload: &mut Vec<u8>, rng: &mut SimRng) {
    let Some(p) = payload.iter().rposition(|&b| b == b'}') else {
        return;
    };
    let n = OVERSIZE_MIN_BYTES + index(rng, 64 * 1024);
    let mut out = Vec::with_capacity(payload.len() + n + 20);
    out.extend_from_slice(&payload[..p]);
    out.extend_from_slice(b",\"diagnostics\":\"");
    let hex = b"0123456789abcdef";
    let mut block = [0u8; 64];
    let mut x = crate::rng::mix64(n as u64);
    let mut left = n;
    while left > 0 {
        for (i, b) in block.iter_mut().enumerate() {
            if i % 16 == 0 {
                x = crate::rng::mix64(x);
            }
            *b = hex[((x >> ((i % 16) * 4)) & 0xf) as usize];
        }
        let k = left.min(block.len());
        out.extend_from_slice(&block[..k]);
        left -= k;
    }
    out.push(b'"');
    out.extend_from_slice(&payload[p..]);
    *payload = out;
}

#[cfg(test)]
mod tests;
