//! Generic parameters, bounds, `where` clauses, const generics and lifetimes pass through.
#![deny(warnings)]
use sentinel::Denied;
use serde::Serialize;

#[sentinel::guarded(policy = "p", skip(sizes))]
fn store<T, U, const N: usize>(item: T, tags: &U, sizes: [u16; N]) -> Result<T, Denied>
where
    T: Serialize + Clone,
    U: Serialize + ?Sized,
{
    let _ = (tags, sizes);
    Ok(item.clone())
}

#[sentinel::guarded(policy = "p")]
fn longest<'a, 'b: 'a>(a: &'a str, b: &'b str) -> Result<&'a str, Denied> {
    Ok(if a.len() >= b.len() { a } else { b })
}

#[sentinel::guarded(policy = "p")]
fn first<'a, T: Serialize>(items: &'a [T]) -> Result<Option<&'a T>, Denied> {
    Ok(items.first())
}

struct Store<T> {
    items: Vec<T>,
}

impl<T: Serialize + Clone> Store<T> {
    #[sentinel::guarded(policy = "p")]
    fn put(&mut self, item: T) -> Result<usize, Denied> {
        self.items.push(item);
        Ok(self.items.len())
    }
}

fn main() {
    assert!(store(5u8, "tag", [1, 2, 3]).is_err());
    assert!(store(String::from("x"), &[1, 2][..], []).is_err());
    assert!(longest("a", "bb").is_err());
    assert!(first(&[1, 2]).is_err());
    let mut s = Store { items: vec![1u8] };
    assert!(s.put(2).is_err());
    assert_eq!(s.items.len(), 1);
}
