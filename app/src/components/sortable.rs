//! Sortable tables: the one place that owns how the dashboard's tables sort
//! in the browser (the functions list and the costs page's "By function").
//!
//! - [`SortState`]: which column sorts and in which direction, and what a click
//!   on a column header does to it (the same column flips; another column
//!   starts with its first direction: biggest first for numbers and dates, A
//!   first for names).
//! - [`SortHeader`]: the `<th aria-sort>` header cell with its `button.sort` and
//!   `span.sort-mark` (the browser tests click these).
//! - [`sort_rows`], [`SortValue`] and [`by_option`]: the sort itself, with
//!   missing values (never called, no live version) after real ones either way
//!   and ties broken by the table's own order (its names).
//!
//! A table names its columns with a small `Copy` enum and says what each row
//! holds in each column (`Fn(&Row, Key) -> Option<SortValue>`).

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use leptos::prelude::*;

/// The column a table sorts by and its direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortState<K> {
    pub key: K,
    pub descending: bool,
}

impl<K: Copy + PartialEq> SortState<K> {
    /// Sorted by `key`, smallest (or A) first.
    pub fn ascending(key: K) -> Self {
        Self {
            key,
            descending: false,
        }
    }

    /// Sorted by `key`, biggest (or newest) first.
    pub fn descending(key: K) -> Self {
        Self {
            key,
            descending: true,
        }
    }

    /// A click on the header of column `key`: the sorted column flips its
    /// direction; another column becomes the sorted one, biggest first when
    /// `biggest_first` (numbers and dates), else smallest first (names).
    pub fn click(&mut self, key: K, biggest_first: bool) {
        if self.key == key {
            self.descending = !self.descending;
        } else {
            self.key = key;
            self.descending = biggest_first;
        }
    }

    /// The `aria-sort` value of column `key`'s header: `none`, `ascending`
    /// or `descending`.
    pub fn aria_sort(&self, key: K) -> &'static str {
        match (self.key == key, self.descending) {
            (false, _) => "none",
            (true, true) => "descending",
            (true, false) => "ascending",
        }
    }

    /// The arrow beside column `key`'s label (empty when it does not sort).
    pub fn mark(&self, key: K) -> &'static str {
        match self.aria_sort(key) {
            "descending" => "↓",
            "ascending" => "↑",
            _ => "",
        }
    }
}

/// One header cell of a sortable table: `<th scope="col" aria-sort>` holding a
/// `button.sort` with the label and a `span.sort-mark`; a click sorts by `key`
/// (or flips the direction when the table already sorts by it).
///
/// `numeric` aligns the column right (`th.num`); `biggest_first` is the
/// direction a first click sorts in, by default the same as `numeric` (dates
/// that are not numeric columns pass `biggest_first=true`).
#[component]
pub fn SortHeader<K>(
    label: &'static str,
    key: K,
    sort: RwSignal<SortState<K>>,
    #[prop(optional)] numeric: bool,
    #[prop(optional)] biggest_first: Option<bool>,
) -> impl IntoView
where
    K: Copy + PartialEq + Send + Sync + 'static,
{
    let biggest_first = biggest_first.unwrap_or(numeric);
    let state = move || sort.get().aria_sort(key);
    let mark = move || sort.get().mark(key);
    view! {
        <th scope="col" class:num=numeric aria-sort=state>
            <button
                type="button"
                class="sort"
                on:click=move |_| sort.update(|s| s.click(key, biggest_first))
            >
                {label}
                <span class="sort-mark" aria-hidden="true">{mark}</span>
            </button>
        </th>
    }
}

/// What a row holds in one column, as far as sorting goes. A column holds one
/// kind; numbers compare by value (floats in IEEE total order), text by bytes.
#[derive(Clone, Copy, Debug)]
pub enum SortValue<'a> {
    Text(&'a str),
    Int(i64),
    Real(f64),
    Time(DateTime<Utc>),
}

impl SortValue<'_> {
    fn rank(&self) -> u8 {
        match self {
            SortValue::Text(_) => 0,
            SortValue::Int(_) => 1,
            SortValue::Real(_) => 2,
            SortValue::Time(_) => 3,
        }
    }
}

impl Ord for SortValue<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortValue::Text(a), SortValue::Text(b)) => a.cmp(b),
            (SortValue::Int(a), SortValue::Int(b)) => a.cmp(b),
            (SortValue::Real(a), SortValue::Real(b)) => a.total_cmp(b),
            (SortValue::Time(a), SortValue::Time(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

impl PartialOrd for SortValue<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortValue<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortValue<'_> {}

impl<'a> From<&'a str> for SortValue<'a> {
    fn from(text: &'a str) -> Self {
        SortValue::Text(text)
    }
}

impl From<i64> for SortValue<'_> {
    fn from(n: i64) -> Self {
        SortValue::Int(n)
    }
}

impl From<f64> for SortValue<'_> {
    fn from(x: f64) -> Self {
        SortValue::Real(x)
    }
}

impl From<DateTime<Utc>> for SortValue<'_> {
    fn from(at: DateTime<Utc>) -> Self {
        SortValue::Time(at)
    }
}

/// Compares two optional values in the chosen direction; missing values sort
/// after real ones either way.
pub fn by_option<T: PartialOrd>(a: Option<T>, b: Option<T>, descending: bool) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => {
            let order = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if descending {
                order.reverse()
            } else {
                order
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Sorts `rows` by the column and direction of `sort`: `value` says what a row
/// holds in a column (None when it has nothing there; such rows go last either
/// way) and `tie` orders rows that hold the same (always ascending).
pub fn sort_rows<T, K: Copy>(
    rows: &mut [T],
    sort: SortState<K>,
    value: impl for<'a> Fn(&'a T, K) -> Option<SortValue<'a>>,
    tie: impl Fn(&T, &T) -> Ordering,
) {
    rows.sort_by(|a, b| {
        by_option(value(a, sort.key), value(b, sort.key), sort.descending).then_with(|| tie(a, b))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Key {
        Name,
        Size,
    }

    struct Row {
        name: &'static str,
        size: Option<f64>,
    }

    fn value(row: &Row, key: Key) -> Option<SortValue<'_>> {
        match key {
            Key::Name => Some(row.name.into()),
            Key::Size => row.size.map(SortValue::from),
        }
    }

    fn sorted(rows: &mut [Row], sort: SortState<Key>) -> Vec<&'static str> {
        sort_rows(rows, sort, value, |a, b| a.name.cmp(b.name));
        rows.iter().map(|r| r.name).collect()
    }

    #[test]
    fn missing_values_go_last_either_way_and_ties_by_name() {
        let row = |name, size| Row { name, size };
        let mut rows = vec![
            row("d", Some(2.0)),
            row("a", None),
            row("c", Some(1.0)),
            row("b", Some(2.0)),
        ];
        assert_eq!(
            sorted(&mut rows, SortState::descending(Key::Size)),
            ["b", "d", "c", "a"]
        );
        assert_eq!(
            sorted(&mut rows, SortState::ascending(Key::Size)),
            ["c", "b", "d", "a"]
        );
        assert_eq!(
            sorted(&mut rows, SortState::descending(Key::Name)),
            ["d", "c", "b", "a"]
        );
        assert_eq!(by_option::<i64>(None, None, true), Ordering::Equal);
        assert_eq!(by_option(Some(1), None, true), Ordering::Less);
        assert_eq!(by_option(None, Some(1), false), Ordering::Greater);
    }

    #[test]
    fn clicks_flip_or_start_with_the_columns_first_direction() {
        let mut sort = SortState::ascending(Key::Name);
        assert_eq!(sort.aria_sort(Key::Name), "ascending");
        assert_eq!(sort.aria_sort(Key::Size), "none");
        assert_eq!((sort.mark(Key::Name), sort.mark(Key::Size)), ("↑", ""));
        sort.click(Key::Size, true);
        assert_eq!(sort, SortState::descending(Key::Size));
        assert_eq!(sort.aria_sort(Key::Size), "descending");
        assert_eq!(sort.mark(Key::Size), "↓");
        sort.click(Key::Size, true);
        assert_eq!(sort, SortState::ascending(Key::Size));
        sort.click(Key::Name, false);
        assert_eq!(sort, SortState::ascending(Key::Name));
        sort.click(Key::Name, false);
        assert_eq!(sort, SortState::descending(Key::Name));
    }

    #[test]
    fn floats_compare_in_total_order() {
        assert_eq!(
            SortValue::Real(-0.0).cmp(&SortValue::Real(0.0)),
            Ordering::Less
        );
        assert!(SortValue::Int(2) > SortValue::Int(-3));
        assert!(SortValue::Text("a") < SortValue::Text("b"));
    }
}
