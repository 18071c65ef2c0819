use super::*;

fn row(i: u64) -> Row {
    let mut r = Row::new("m", 0);
    r.uint("i", i);
    r
}

#[tokio::test(start_paused = true)]
async fn a_batch_is_due_when_full() {
    let mut b = Batcher::new(3, Duration::from_secs(60));
    let now = Instant::now();
    assert!(!b.is_due(now));
    b.push(row(0), now);
    b.push(row(1), now);
    assert!(!b.is_due(now));
    b.push(row(2), now);
    assert!(b.is_due(now));
    assert_eq!(b.take().len(), 3);
    assert!(b.is_empty());
    assert_eq!(b.deadline(), None);
}

#[tokio::test(start_paused = true)]
async fn a_batch_is_due_the_interval_after_its_first_row() {
    let mut b = Batcher::new(100, Duration::from_millis(1000));
    let start = Instant::now();
    b.push(row(0), start);
    tokio::time::advance(Duration::from_millis(600)).await;
    b.push(row(1), Instant::now());
    assert_eq!(b.deadline(), Some(start + Duration::from_millis(1000)));
    assert!(!b.is_due(Instant::now()));
    tokio::time::sleep_until(b.deadline().unwrap()).await;
    assert!(b.is_due(Instant::now()));
    assert_eq!(Instant::now() - start, Duration::from_millis(1000));
    assert_eq!(b.take().len(), 2);
    // The next batch's clock starts with its own first row.
    tokio::time::advance(Duration::from_secs(5)).await;
    b.push(row(2), Instant::now());
    assert!(!b.is_due(Instant::now()));
}

#[tokio::test(start_paused = true)]
async fn an_oversized_backlog_comes_out_in_full_batches_oldest_first() {
    let mut b = Batcher::new(2, Duration::from_secs(1));
    let now = Instant::now();
    b.extend((0..5).map(row), now);
    let mut batches = Vec::new();
    while b.is_due(now) {
        batches.push(
            b.take()
                .iter()
                .map(|r| r.fields[0].1.clone())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(batches.len(), 2);
    assert_eq!(b.len(), 1, "the last row waits for its interval");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(b.is_due(Instant::now()));
    assert_eq!(
        batches[0],
        [
            crate::row::FieldValue::UInt(0),
            crate::row::FieldValue::UInt(1)
        ]
    );
}

#[test]
fn extending_with_nothing_starts_no_clock() {
    let mut b = Batcher::new(2, Duration::from_secs(1));
    b.extend(Vec::new(), Instant::now());
    assert_eq!(b.deadline(), None);
}
