//! What a check looked at: a few label names and values (`load_balancer`,
//! `port`, ...), in label order. A sorted vector rather than a map: a
//! check names one to four things, and a `BTreeMap` node for them took
//! about 450 bytes, a fifth of the findings at organisation scale (96 000
//! checks at 2 000 scopes).

use serde::ser::{Serialize, SerializeMap, Serializer};

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Object(Vec<(&'static str, String)>);

impl Object {
    /// Sets `key` to `value`; the value it had, if any.
    pub fn insert(&mut self, key: &'static str, mut value: String) -> Option<String> {
        // Kept for as long as the findings: no room to spare (a `format!`
        // leaves up to half its buffer unused).
        value.shrink_to_fit();
        match self.0.binary_search_by(|(k, _)| (*k).cmp(key)) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.0
            .binary_search_by(|(k, _)| (*k).cmp(key))
            .ok()
            .map(|i| &self.0[i].1)
    }

    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(k, _)| *k)
    }

    /// The pairs in label order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &String)> + '_ {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(&'static str, String)> for Object {
    /// The pairs in label order; of a name given twice, the last value.
    fn from_iter<I: IntoIterator<Item = (&'static str, String)>>(pairs: I) -> Self {
        let mut object = Object::default();
        for (k, v) in pairs {
            object.insert(k, v);
        }
        object.0.shrink_to_fit();
        object
    }
}

impl<const N: usize> From<[(&'static str, String); N]> for Object {
    fn from(pairs: [(&'static str, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl std::ops::Index<&str> for Object {
    type Output = String;

    /// The value of `key`; panics where there is none, as a map's index
    /// does (for tests).
    fn index(&self, key: &str) -> &String {
        self.get(key)
            .unwrap_or_else(|| panic!("the object has no {key:?}"))
    }
}

/// A JSON object, as the `diagnose --output json` contract has it.
impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_kept_in_label_order_one_value_a_name() {
        let mut o = Object::from([
            ("port", "443".to_owned()),
            ("load_balancer", "lb".to_owned()),
        ]);
        assert_eq!(o.keys().collect::<Vec<_>>(), ["load_balancer", "port"]);
        assert_eq!(o.insert("port", "80".into()).as_deref(), Some("443"));
        assert_eq!(o.insert("collector", "x".into()), None);
        assert_eq!(o["port"], "80");
        assert_eq!(o.get("nope"), None);
        assert_eq!(o.len(), 3);
        assert_eq!(
            serde_json::to_string(&o).unwrap(),
            r#"{"collector":"x","load_balancer":"lb","port":"80"}"#
        );
        // Ordered as a map of the same pairs would be.
        let a = Object::from([("a", "1".to_owned())]);
        let b = Object::from([("a", "1".to_owned()), ("b", "0".to_owned())]);
        assert!(a < b);
    }
}
