use super::*;

#[test]
fn statuses_are_classified_by_what_the_caller_should_do_next() {
    assert_eq!(classify(204), Class::Ok);
    assert_eq!(classify(200), Class::Ok);
    for s in [400, 413, 422] {
        assert_eq!(classify(s), Class::Refused, "{s}");
    }
    assert_eq!(classify(429), Class::Transient(ErrorReason::Status429));
    assert_eq!(classify(408), Class::Transient(ErrorReason::Timeout));
    for s in [500, 502, 503, 504] {
        assert_eq!(classify(s), Class::Transient(ErrorReason::Status5xx), "{s}");
    }
    for s in [301, 401, 403, 404, 405, 410] {
        assert_eq!(classify(s), Class::Config, "{s}");
    }
}

#[test]
fn backoff_doubles_up_to_its_cap() {
    let mut b = Backoff::new(Duration::from_millis(200), Duration::from_millis(1000));
    let d: Vec<u128> = (0..6).map(|_| b.next_delay(None).as_millis()).collect();
    assert_eq!(d, [200, 400, 800, 1000, 1000, 1000]);
}

#[test]
fn a_longer_retry_after_wins_over_the_backoff_step_but_a_shorter_one_does_not() {
    let mut b = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    assert_eq!(
        b.next_delay(Some(Duration::from_secs(1))),
        Duration::from_secs(1)
    );
    assert_eq!(
        b.next_delay(Some(Duration::from_millis(10))),
        Duration::from_millis(400)
    );
    assert_eq!(
        b.next_delay(Some(Duration::from_secs(24 * 3600))),
        MAX_RETRY_AFTER
    );
}

#[test]
fn retry_after_is_read_as_seconds_or_as_a_date_against_the_responses_date() {
    assert_eq!(parse_retry_after("1", None), Some(Duration::from_secs(1)));
    assert_eq!(
        parse_retry_after(" 120 ", None),
        Some(Duration::from_secs(120))
    );
    let date = "Sun, 22 Nov 2026 18:39:57 GMT";
    assert_eq!(
        parse_retry_after("Sun, 22 Nov 2026 18:40:27 GMT", Some(date)),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        parse_retry_after("Sun, 22 Nov 2026 18:00:00 GMT", Some(date)),
        Some(Duration::ZERO),
        "a date in the past means now"
    );
    assert_eq!(
        parse_retry_after("Sun, 22 Nov 2026 18:40:27 GMT", None),
        None
    );
    assert_eq!(parse_retry_after("soon", Some(date)), None);
    assert_eq!(parse_retry_after("", None), None);
    assert_eq!(parse_retry_after("-1", None), None);
}

#[test]
fn every_reason_has_a_unique_snake_case_code() {
    let codes: std::collections::BTreeSet<_> = ErrorReason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(codes.len(), ErrorReason::ALL.len());
    for c in &codes {
        assert!(
            c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        );
    }
}

#[test]
fn reset_starts_the_steps_again_and_a_zero_initial_step_is_one_millisecond() {
    let mut b = Backoff::from_millis(0, 0);
    assert_eq!(b.next_delay(None), Duration::from_millis(1));
    let mut b = Backoff::from_millis(100, 1000);
    b.next_delay(None);
    b.next_delay(None);
    b.reset();
    assert_eq!(b.next_delay(None), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn wait_sleeps_the_step_unless_shutdown_comes_first() {
    let shutdown = CancellationToken::new();
    let mut b = Backoff::from_millis(1000, 8000);
    let t = tokio::time::Instant::now();
    assert_eq!(b.wait(&shutdown).await, Ok(()));
    assert_eq!(t.elapsed(), Duration::from_millis(1000));
    shutdown.cancel();
    assert_eq!(b.wait(&shutdown).await, Err(Cancelled));
}

#[test]
fn file_errors_are_told_apart_by_what_the_operator_must_fix() {
    use std::io::Error;
    let of = |raw: i32| ErrorReason::of_io(&Error::from_raw_os_error(raw));
    // Linux errno values: ENOSPC 28, EDQUOT 122, EROFS 30, EACCES 13, EPERM 1, EIO 5.
    assert_eq!(of(28), ErrorReason::DiskFull);
    assert_eq!(of(122), ErrorReason::DiskFull);
    assert_eq!(of(30), ErrorReason::ReadOnly);
    assert_eq!(of(13), ErrorReason::Permission);
    assert_eq!(of(1), ErrorReason::Permission);
    assert_eq!(of(5), ErrorReason::Io);
    assert_eq!(ErrorReason::of_io(&Error::other("x")), ErrorReason::Io);
}
