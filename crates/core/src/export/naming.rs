//! Names on the MongoDB side: the seed's collections are the tables' names in
//! camelCase (`platform_buy_daily_impressions` → `platformBuyDailyImpressions`), and
//! so are the fields (`created_at` → `createdAt`).

/// `snake_case` → `camelCase`: each `_` is dropped and the letter after it raised;
/// a leading, trailing or doubled `_` is kept as it is (no name is lost or merged).
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let chars: Vec<char> = name.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '_' && !out.is_empty() && !out.ends_with('_') {
            if let Some(n) = next.filter(|n| n.is_ascii_lowercase() || n.is_ascii_digit()) {
                out.push(n.to_ascii_uppercase());
                i += 2;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::camel_case;

    #[test]
    fn the_seeds_names() {
        assert_eq!(
            camel_case("platform_buy_daily_impressions"),
            "platformBuyDailyImpressions"
        );
        assert_eq!(
            camel_case("platform_buy_daily_videos"),
            "platformBuyDailyVideos"
        );
        assert_eq!(camel_case("created_at"), "createdAt");
        assert_eq!(camel_case("media_buy_id"), "mediaBuyId");
        assert_eq!(camel_case("hour_start"), "hourStart");
        assert_eq!(camel_case("date"), "date");
    }

    #[test]
    fn odd_underscores_are_kept() {
        assert_eq!(camel_case("_id"), "_id");
        assert_eq!(camel_case("a__b"), "a__b");
        assert_eq!(camel_case("trailing_"), "trailing_");
        assert_eq!(camel_case("day_1"), "day1");
    }
}
