//! The streaming comparison against a naive model (a `BTreeMap` of the target, looked
//! up per source row, with money compared as scaled integers), on random streams with
//! duplicate keys, NULL target values, set-aside rows with and without keys, boundary
//! keys and empty sides, in both key orders.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::order::KeyOrder;
use crate::validate::{Outcome, Reason, Row, Value};

/// Money text as an integer number of 10^-12, independent of `canonical_decimal`.
fn money_units(text: &str) -> i128 {
    let (neg, t) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let mut frac = frac.to_string();
    assert!(frac.len() <= 12);
    while frac.len() < 12 {
        frac.push('0');
    }
    let v = int.parse::<i128>().unwrap() * 10i128.pow(12) + frac.parse::<i128>().unwrap();
    if neg {
        -v
    } else {
        v
    }
}

fn model_same(s: &Value, t: &Option<Value>) -> bool {
    match (s, t) {
        (Value::Count(a), Some(Value::Count(b))) => a == b,
        (Value::Money(a), Some(Value::Money(b))) => money_units(a) == money_units(b),
        _ => false,
    }
}

/// A decision reduced to comparable parts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum D {
    Insert(Key, String),
    Update(Key, String),
    Unchanged(Key),
    Vanished(Key),
    Aside(Option<Key>, String),
}

fn reduce(d: &Decision) -> D {
    match d {
        Decision::Insert { key, values } => D::Insert(key.clone(), format!("{values:?}")),
        Decision::Update { key, values } => D::Update(key.clone(), format!("{values:?}")),
        Decision::Unchanged { key } => D::Unchanged(key.clone()),
        Decision::Vanished { key } => D::Vanished(key.clone()),
        Decision::SetAside { key, detail, .. } => D::Aside(key.clone(), detail.clone()),
    }
}

/// The naive model: every source outcome looks its key up in what is left of the
/// target; whatever is left at the end vanished.
fn model(source: &[Outcome], target: &[TargetRow]) -> Vec<D> {
    let mut left: BTreeMap<Key, Vec<Option<Value>>> = target
        .iter()
        .map(|t| (t.key.clone(), t.values.clone()))
        .collect();
    let mut out = Vec::new();
    for o in source {
        match o {
            Outcome::Valid {
                slot,
                media_buy_id,
                values,
            } => {
                let key = (media_buy_id.clone(), *slot);
                let d = match left.remove(&key) {
                    None => D::Insert(key.clone(), format!("{values:?}")),
                    Some(t) if values.iter().zip(&t).all(|(s, t)| model_same(s, t)) => {
                        D::Unchanged(key)
                    }
                    Some(_) => D::Update(key, format!("{values:?}")),
                };
                out.push(d);
            }
            Outcome::SetAside { detail, row, .. } => {
                let key = row.media_buy_id.clone().zip(row.slot);
                if let Some(k) = &key {
                    left.remove(k);
                }
                out.push(D::Aside(key, detail.clone()));
            }
        }
    }
    out.extend(left.into_keys().map(D::Vanished));
    out.sort();
    out
}

fn key_of(d: &Decision) -> Option<Key> {
    match d {
        Decision::Insert { key, .. }
        | Decision::Update { key, .. }
        | Decision::Unchanged { key }
        | Decision::Vanished { key } => Some(key.clone()),
        Decision::SetAside { key, .. } => key.clone(),
    }
}

fn outcome_key(o: &Outcome) -> Option<Key> {
    match o {
        Outcome::Valid {
            slot, media_buy_id, ..
        } => Some((media_buy_id.clone(), *slot)),
        Outcome::SetAside { row, .. } => row.media_buy_id.clone().zip(row.slot),
    }
}

/// The streams re-sorted in `order`: keyed source outcomes among themselves (stably,
/// so duplicates keep their order; keyless ones stay where they fall), target rows
/// by key.
fn in_order(
    order: KeyOrder,
    mut source: Vec<Outcome>,
    mut target: Vec<TargetRow>,
) -> (Vec<Outcome>, Vec<TargetRow>) {
    let mut keyed: Vec<Outcome> = source
        .iter()
        .filter(|o| outcome_key(o).is_some())
        .cloned()
        .collect();
    keyed.sort_by(|a, b| order.cmp(&outcome_key(a).unwrap(), &outcome_key(b).unwrap()));
    let mut it = keyed.into_iter();
    for o in source.iter_mut() {
        if outcome_key(o).is_some() {
            *o = it.next().expect("same count");
        }
    }
    target.sort_by(|a, b| order.cmp(&a.key, &b.key));
    (source, target)
}

fn orders() -> impl Strategy<Value = KeyOrder> {
    prop_oneof![Just(KeyOrder::MediaBuyFirst), Just(KeyOrder::DateFirst)]
}

/// Text ids that differ by case, accents (precomposed and combining), digits vs
/// letters, and non-ASCII: ordered by UTF-8 bytes, as PostgreSQL's `COLLATE "C"`.
const TEXT_IDS: [&str; 10] = ["", "10", "9", "B", "a", "b", "e\u{301}", "é", "ü", "日本"];

fn ids() -> impl Strategy<Value = BuyId> {
    prop_oneof![
        4 => (1i64..6).prop_map(BuyId::Int),
        1 => Just(BuyId::Int(i64::MIN)),
        1 => Just(BuyId::Int(i64::MAX)),
        1 => Just(BuyId::Int(0)),
        4 => (0..TEXT_IDS.len()).prop_map(|i| BuyId::Text(TEXT_IDS[i].to_string())),
    ]
}

fn dates() -> impl Strategy<Value = NaiveDate> {
    prop_oneof![
        4 => (1u32..5).prop_map(|d| NaiveDate::from_ymd_opt(2026, 1, d).unwrap()),
        1 => Just(NaiveDate::MIN),
        1 => Just(NaiveDate::MAX),
        1 => Just(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()),
        1 => Just(NaiveDate::from_ymd_opt(1999, 12, 31).unwrap()),
    ]
}

const MONEY: [&str; 9] = [
    "0", "0.00", "-0", "1.5", "1.50", "1.05", "-12.30", "-12.3", "100",
];

/// Metrics in the layout of the impressions target: count, count, money.
fn values() -> impl Strategy<Value = Vec<Value>> {
    (
        prop_oneof![Just(0i64), Just(1i64), Just(7i64), Just(i64::MAX)],
        0i64..3,
        0usize..MONEY.len(),
    )
        .prop_map(|(a, b, m)| {
            vec![
                Value::Count(a),
                Value::Count(b),
                Value::Money(MONEY[m].to_string()),
            ]
        })
}

fn target_values() -> impl Strategy<Value = Vec<Option<Value>>> {
    (values(), proptest::collection::vec(any::<bool>(), 3)).prop_map(|(v, nulls)| {
        v.into_iter()
            .zip(nulls)
            .map(|(v, null)| (!null).then_some(v))
            .collect::<Vec<_>>()
    })
}

#[derive(Clone, Debug)]
enum Src {
    Valid(BuyId, NaiveDate, Vec<Value>),
    AsideKeyed(BuyId, NaiveDate),
    AsideKeyless(Option<NaiveDate>),
}

fn src() -> impl Strategy<Value = Src> {
    prop_oneof![
        6 => (ids(), dates(), values()).prop_map(|(i, d, v)| Src::Valid(i, d, v)),
        2 => (ids(), dates()).prop_map(|(i, d)| Src::AsideKeyed(i, d)),
        1 => proptest::option::of(dates()).prop_map(Src::AsideKeyless),
    ]
}

fn row(id: Option<BuyId>, date: Option<NaiveDate>) -> Row {
    Row {
        slot: date.map(epoch_days),
        media_buy_id: id,
        values: vec![],
        raw: None,
        problem: None,
    }
}

/// Source outcomes sorted by key (keyless ones stay where they fall), duplicates kept.
fn source_stream() -> impl Strategy<Value = Vec<Outcome>> {
    proptest::collection::vec(src(), 0..40).prop_map(|mut v| {
        let key = |s: &Src| match s {
            Src::Valid(i, d, _) | Src::AsideKeyed(i, d) => Some((i.clone(), *d)),
            Src::AsideKeyless(_) => None,
        };
        // Sort the keyed ones among themselves, keeping the keyless ones in place.
        let mut keyed: Vec<Src> = v.iter().filter(|s| key(s).is_some()).cloned().collect();
        keyed.sort_by_key(|s| key(s));
        let mut it = keyed.into_iter();
        for s in v.iter_mut() {
            if key(s).is_some() {
                *s = it.next().expect("same count");
            }
        }
        v.into_iter()
            .enumerate()
            .map(|(n, s)| match s {
                Src::Valid(id, date, values) => Outcome::Valid {
                    slot: epoch_days(date),
                    media_buy_id: id,
                    values,
                },
                Src::AsideKeyed(id, date) => Outcome::SetAside {
                    reason: Reason::NegativeCount,
                    detail: format!("aside #{n}"),
                    row: Box::new(row(Some(id), Some(date))),
                },
                Src::AsideKeyless(date) => Outcome::SetAside {
                    reason: Reason::NullKey,
                    detail: format!("aside #{n}"),
                    row: Box::new(row(None, date)),
                },
            })
            .collect()
    })
}

/// Target rows with distinct keys, in key order (a BTreeMap sorts them).
fn target_stream() -> impl Strategy<Value = Vec<TargetRow>> {
    proptest::collection::btree_map((ids(), dates()), target_values(), 0..30).prop_map(|m| {
        m.into_iter()
            .map(|((id, d), values)| TargetRow {
                key: (id, epoch_days(d)),
                values,
            })
            .collect()
    })
}

/// A target built from the source's own keys, so that most keys meet.
fn overlapping() -> impl Strategy<Value = (Vec<Outcome>, Vec<TargetRow>)> {
    source_stream().prop_flat_map(|source| {
        let keys: Vec<Key> = source
            .iter()
            .filter_map(|o| match o {
                Outcome::Valid {
                    slot, media_buy_id, ..
                } => Some((media_buy_id.clone(), *slot)),
                _ => None,
            })
            .collect();
        let n = keys.len();
        (
            Just(source),
            proptest::collection::vec((any::<bool>(), target_values()), n),
            target_stream(),
        )
            .prop_map(move |(source, picks, extra)| {
                let mut m: BTreeMap<Key, Vec<Option<Value>>> =
                    extra.into_iter().map(|t| (t.key, t.values)).collect();
                for (k, (take, v)) in keys.iter().zip(picks) {
                    if take {
                        m.insert(k.clone(), v);
                    }
                }
                let target = m
                    .into_iter()
                    .map(|(key, values)| TargetRow { key, values })
                    .collect();
                (source, target)
            })
    })
}

fn check(
    order: KeyOrder,
    source: Vec<Outcome>,
    target: Vec<TargetRow>,
) -> Result<(), TestCaseError> {
    let (source, target) = in_order(order, source, target);
    let expected = model(&source, &target);
    let decisions = compare(order, source.clone(), target.clone()).expect("ordered input");
    // Keyed decisions come out in the streams' order: one pass over both.
    let keys: Vec<Key> = decisions.iter().filter_map(key_of).collect();
    prop_assert!(
        keys.windows(2).all(|w| order.cmp(&w[0], &w[1]).is_le()),
        "{keys:?}"
    );
    // Every source outcome is decided once, every target row accounted for once.
    let vanished = decisions
        .iter()
        .filter(|d| matches!(d, Decision::Vanished { .. }))
        .count();
    prop_assert_eq!(decisions.len() - vanished, source.len());
    let mut got: Vec<D> = decisions.iter().map(reduce).collect();
    got.sort();
    prop_assert_eq!(got, expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn streaming_matches_the_model(order in orders(), source in source_stream(), target in target_stream()) {
        check(order, source, target)?;
    }

    #[test]
    fn streaming_matches_the_model_when_keys_meet(order in orders(), (source, target) in overlapping()) {
        check(order, source, target)?;
    }

    #[test]
    fn an_empty_source_vanishes_the_whole_target(order in orders(), target in target_stream()) {
        let (_, target) = in_order(order, Vec::new(), target);
        let d = compare(order, Vec::new(), target.clone()).unwrap();
        let keys: Vec<Key> = d.iter().map(|d| match d {
            Decision::Vanished { key } => key.clone(),
            other => panic!("{other:?}"),
        }).collect();
        prop_assert_eq!(keys, target.iter().map(|t| t.key.clone()).collect::<Vec<_>>());
    }

    #[test]
    fn an_empty_target_inserts_every_valid_row(order in orders(), source in source_stream()) {
        let (source, _) = in_order(order, source, Vec::new());
        let d = compare(order, source.clone(), Vec::new()).unwrap();
        let inserts = d.iter().filter(|d| matches!(d, Decision::Insert { .. })).count();
        let valid = source.iter().filter(|o| matches!(o, Outcome::Valid { .. })).count();
        prop_assert_eq!(inserts, valid);
        prop_assert_eq!(d.len(), source.len());
    }

    #[test]
    fn a_source_out_of_order_is_refused(order in orders(), source in source_stream()) {
        let (mut source, _) = in_order(order, source, Vec::new());
        let keyed: Vec<usize> = source.iter().enumerate().filter(|(_, o)| matches!(o, Outcome::Valid { .. })).map(|(i, _)| i).collect();
        prop_assume!(keyed.len() >= 2);
        let (a, b) = (keyed[0], keyed[keyed.len() - 1]);
        let key = |o: &Outcome| match o { Outcome::Valid { slot, media_buy_id, .. } => (media_buy_id.clone(), *slot), _ => unreachable!() };
        prop_assume!(order.cmp(&key(&source[a]), &key(&source[b])).is_lt());
        source.swap(a, b);
        let err = compare(order, source, Vec::new()).unwrap_err();
        prop_assert!(matches!(err, CompareError::SourceOutOfOrder { .. }), "{err:?}");
    }
}

fn valid(id: i64, date: NaiveDate, values: Vec<Value>) -> Outcome {
    Outcome::Valid {
        slot: epoch_days(date),
        media_buy_id: BuyId::Int(id),
        values,
    }
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[test]
fn money_compares_by_value_not_by_scale() {
    assert_eq!(canonical_decimal("1.50"), "1.5");
    assert_eq!(canonical_decimal("1.5"), "1.5");
    assert_eq!(canonical_decimal("100"), "100");
    assert_eq!(canonical_decimal("100.000"), "100");
    assert_eq!(canonical_decimal("-0.00"), "0");
    assert_eq!(canonical_decimal("0.05"), "0.05");
    assert_eq!(canonical_decimal("-12.340"), "-12.34");
    assert_eq!(canonical_decimal("007.10"), "7.1");
    assert_ne!(canonical_decimal("1.05"), canonical_decimal("1.5"));

    let t = |money: &str| TargetRow {
        key: (BuyId::Int(1), epoch_days(d(2026, 1, 1))),
        values: vec![Some(Value::Money(money.into()))],
    };
    let s = || valid(1, d(2026, 1, 1), vec![Value::Money("1.5".into())]);
    let one =
        |target: TargetRow| reduce(&compare(KeyOrder::MediaBuyFirst, [s()], [target]).unwrap()[0]);
    assert_eq!(one(t("1.50")), D::Unchanged((BuyId::Int(1), 9497)));
    assert!(matches!(one(t("1.05")), D::Update(..)));
    // A NULL in the target is never equal, not even to zero.
    let null = TargetRow {
        key: (BuyId::Int(1), epoch_days(d(2026, 1, 1))),
        values: vec![None],
    };
    assert!(matches!(
        reduce(
            &compare(
                KeyOrder::MediaBuyFirst,
                [valid(1, d(2026, 1, 1), vec![Value::Money("0".into())])],
                [null]
            )
            .unwrap()[0]
        ),
        D::Update(..)
    ));
}

#[test]
fn dates_use_postgresql_epoch_days() {
    assert_eq!(epoch_days(d(2000, 1, 1)), 0);
    assert_eq!(epoch_days(d(1999, 12, 31)), -1);
    assert_eq!(epoch_days(d(2026, 1, 1)), 9497);
    for date in [
        NaiveDate::MIN,
        NaiveDate::MAX,
        d(1970, 1, 1),
        d(2000, 2, 29),
    ] {
        assert_eq!(from_epoch_days(epoch_days(date)), Some(date));
    }
    assert_eq!(from_epoch_days(i32::MAX), None);
}

#[test]
fn a_set_aside_key_keeps_its_target_row_and_a_duplicate_inserts() {
    let day = d(2026, 3, 1);
    let k = (BuyId::Int(5), epoch_days(day));
    let target = vec![
        TargetRow {
            key: (BuyId::Int(4), 0),
            values: vec![Some(Value::Count(1))],
        },
        TargetRow {
            key: k.clone(),
            values: vec![Some(Value::Count(1))],
        },
        TargetRow {
            key: (BuyId::Int(i64::MAX), i32::MAX),
            values: vec![Some(Value::Count(1))],
        },
    ];
    let source = vec![
        Outcome::SetAside {
            reason: Reason::DuplicateKey,
            detail: "dup".into(),
            row: Box::new(row(Some(BuyId::Int(5)), Some(day))),
        },
        Outcome::SetAside {
            reason: Reason::DuplicateKey,
            detail: "dup".into(),
            row: Box::new(row(Some(BuyId::Int(5)), Some(day))),
        },
    ];
    let got: Vec<D> = compare(KeyOrder::MediaBuyFirst, source, target)
        .unwrap()
        .iter()
        .map(reduce)
        .collect();
    assert_eq!(
        got,
        vec![
            D::Vanished((BuyId::Int(4), 0)),
            D::Aside(Some(k.clone()), "dup".into()),
            D::Aside(Some(k), "dup".into()),
            D::Vanished((BuyId::Int(i64::MAX), i32::MAX)),
        ]
    );
}

/// Keys whose id and date cross ((1, late) and (2, early)) are in order one way and
/// out of order the other: the same streams are merged exactly in date-first order,
/// and refused in media-buy-first order.
#[test]
fn crossing_keys_merge_date_first_and_are_refused_media_buy_first() {
    let (early, late) = (d(2026, 1, 1), d(2026, 1, 2));
    let source = vec![
        valid(2, early, vec![Value::Count(5)]),
        valid(1, late, vec![Value::Count(1)]),
    ];
    let target = vec![
        TargetRow {
            key: (BuyId::Int(1), epoch_days(early)),
            values: vec![Some(Value::Count(9))],
        },
        TargetRow {
            key: (BuyId::Int(2), epoch_days(early)),
            values: vec![Some(Value::Count(5))],
        },
        TargetRow {
            key: (BuyId::Int(1), epoch_days(late)),
            values: vec![Some(Value::Count(2))],
        },
    ];
    let got: Vec<D> = compare(KeyOrder::DateFirst, source.clone(), target)
        .unwrap()
        .iter()
        .map(reduce)
        .collect();
    assert_eq!(
        got,
        vec![
            D::Vanished((BuyId::Int(1), epoch_days(early))),
            D::Unchanged((BuyId::Int(2), epoch_days(early))),
            D::Update((BuyId::Int(1), epoch_days(late)), "[Count(1)]".into()),
        ]
    );
    assert_eq!(
        compare(KeyOrder::MediaBuyFirst, source, Vec::new()).unwrap_err(),
        CompareError::SourceOutOfOrder {
            previous: (BuyId::Int(2), epoch_days(early)),
            next: (BuyId::Int(1), epoch_days(late)),
        }
    );
}
