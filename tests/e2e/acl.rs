//! `deploy/mosquitto/acl` on a real Mosquitto with TLS and a password per client, and
//! the real `kerbside ingest` connecting over TLS with its credentials: a device
//! publishing on another device's topic is stopped at the broker; one naming another
//! device in its payload passes the broker and is refused by ingest as
//! `device_mismatch`, dead-lettered and counted.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rumqttc::v5;

use crate::ingest::{free_port, metric, now_ms, ready, setup_with, spawn_with};
use crate::outage::mosquitto_with;
use crate::support::{Server, unique_name, within};

/// Runs a command, failing the test with its output if it fails.
fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a setup command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private CA and a server certificate for `localhost`.
fn certificates(dir: &Path) {
    let d = |f: &str| dir.join(f);
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=kerbside test CA", "-keyout"])
        .arg(d("ca.key"))
        .arg("-out")
        .arg(d("ca.crt")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(d("server.key"))
        .arg("-out")
        .arg(d("server.csr")));
    std::fs::write(d("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-in"])
        .arg(d("server.csr"))
        .arg("-CA")
        .arg(d("ca.crt"))
        .arg("-CAkey")
        .arg(d("ca.key"))
        .arg("-CAcreateserial")
        .arg("-extfile")
        .arg(d("san.ext"))
        .arg("-out")
        .arg(d("server.crt")));
}

/// A device's MQTT 5 client over TLS with its own credentials. (MQTT 5 because
/// Mosquitto 2.0 answers a denied QoS 1 publish with a PUBACK carrying reason code
/// 135 even to 3.1.1 clients, which rumqttc's 3.1.1 client rejects as malformed.)
fn device_client(port: u16, ca: &[u8], user: &str) -> (v5::AsyncClient, v5::EventLoop) {
    let mut o = v5::MqttOptions::new(unique_name(user), "localhost", port);
    o.set_keep_alive(Duration::from_secs(10))
        .set_credentials(user, "device-secret")
        .set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Simple {
                ca: ca.to_vec(),
                alpn: None,
                client_auth: None,
            },
        ));
    v5::AsyncClient::new(o, 16)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_acl_stops_a_device_publishing_on_another_devices_topic() {
    let kafka = Server::Kafka.require().await;
    within(Duration::from_secs(120), "the ACL test", async {
        let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_acl"));
        std::fs::create_dir_all(&dir).unwrap();
        certificates(&dir);
        let port = free_port();

        // The asset register's two devices are also the broker's two device users.
        let s = {
            let placeholder = format!("localhost:{port}");
            setup_with(
                &placeholder,
                &kafka,
                2,
                true,
                &format!(
                    "username = \"kerbside-ingest\"\ntls_ca_file = \"{}\"\n",
                    dir.join("ca.crt").display()
                ),
            )
        };
        let (a, b) = (s.devices[0].clone(), s.devices[1].clone());
        let passwords = dir.join("passwords");
        run(Command::new("mosquitto_passwd")
            .args(["-c", "-b"])
            .arg(&passwords)
            .args(["kerbside-ingest", "ingest-secret"]));
        for dev in [&a, &b] {
            run(Command::new("mosquitto_passwd")
                .arg("-b")
                .arg(&passwords)
                .args([dev.as_str(), "device-secret"]));
        }
        let acl = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/mosquitto/acl");
        let _broker = mosquitto_with(
            &dir.join("mosquitto"),
            port,
            &format!(
                "cafile {d}/ca.crt\ncertfile {d}/server.crt\nkeyfile {d}/server.key\n\
                 allow_anonymous false\npassword_file {pw}\nacl_file {acl}\n",
                d = dir.display(),
                pw = passwords.display(),
                acl = acl.display(),
            ),
        )
        .await;

        let mut ingest = spawn_with(
            &s.config,
            &s.dir.join("ingest-1.log"),
            &[("KERBSIDE__MQTT__PASSWORD", "ingest-secret")],
        );
        ready(s.metrics_port, &mut ingest, &s).await;

        let ca = std::fs::read(dir.join("ca.crt")).unwrap();
        let (client, el) = device_client(port, &ca, &a);
        let ts = now_ms() - 30_000;
        let reading = |dev: &str, seq: u64| {
            format!(r#"{{"device_id":"{dev}","ts":{ts},"seq":{seq},"fill_pct":5}}"#)
        };
        let qos = v5::mqttbytes::QoS::AtLeastOnce;
        // Polls until `want` PUBACKs, or until the connection ends; returns the count.
        let acks = |mut el: v5::EventLoop, want: usize| {
            tokio::spawn(async move {
                let mut n = 0;
                while n < want {
                    match el.poll().await {
                        Ok(v5::Event::Incoming(v5::Incoming::PubAck(_))) => n += 1,
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                n
            })
        };
        let poller = acks(el, 2);
        // 1. Its own reading on its own topic: accepted.
        client
            .publish(format!("kerbside/v1/bin/{a}"), qos, false, reading(&a, 1))
            .await
            .unwrap();
        // 2. On its own topic naming the other device: passes the ACL, refused by ingest.
        client
            .publish(format!("kerbside/v1/bin/{a}"), qos, false, reading(&b, 2))
            .await
            .unwrap();
        let n = tokio::time::timeout(Duration::from_secs(20), poller)
            .await
            .expect("PUBACKs")
            .unwrap();
        assert_eq!(n, 2, "the broker refused a device's own topic");
        // 3. On the other device's topic, from a fresh connection: the broker denies it
        //    (and answers "not authorised", on which rumqttc ends the connection).
        let (spoofer, el) = device_client(port, &ca, &a);
        let poller = acks(el, 1);
        spoofer
            .publish(format!("kerbside/v1/bin/{b}"), qos, false, reading(&b, 1))
            .await
            .unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(20), poller)
            .await
            .expect("an answer");

        for _ in 0..100 {
            let acked = metric(s.metrics_port, "kerbside_ingest_messages_acked_total").await;
            if acked >= Some(2.0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let received = metric(s.metrics_port, "kerbside_ingest_messages_received_total").await;
        assert_eq!(
            received,
            Some(2.0),
            "the broker let the spoofed topic through (or lost a message)"
        );
        let mismatch = metric(
            s.metrics_port,
            "kerbside_ingest_refused_total{reason=\"device_mismatch\"}",
        )
        .await;
        assert_eq!(
            mismatch,
            Some(1.0),
            "the spoofed payload was not refused as device_mismatch"
        );
        let bins = metric(
            s.metrics_port,
            "kerbside_ingest_readings_accepted_total{kind=\"bin\"}",
        )
        .await;
        assert_eq!(bins, Some(1.0));
        let log = std::fs::read_to_string(dir.join("mosquitto/mosquitto.log")).unwrap_or_default();
        assert!(
            log.contains("Denied PUBLISH"),
            "Mosquitto did not log the denial:\n{log}"
        );

        let _ = ingest.kill();
        let _ = ingest.wait();
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&s.dir);
    })
    .await;
}
