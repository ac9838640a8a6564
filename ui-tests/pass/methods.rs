//! Every receiver form; the receiver is never sent.
#![deny(warnings)]
use sentinel::Denied;

#[derive(Debug, Clone)]
struct Wallet {
    balance: u64,
}

impl Wallet {
    #[sentinel::guarded(policy = "p")]
    fn peek(&self, account: &str) -> Result<u64, Denied> {
        let _ = account;
        Ok(self.balance)
    }

    #[sentinel::guarded(policy = "p")]
    fn spend(&mut self, amount: u64) -> Result<u64, Denied> {
        self.balance -= amount;
        Ok(self.balance)
    }

    #[sentinel::guarded(policy = "p")]
    fn close(self) -> Result<u64, Denied> {
        Ok(self.balance)
    }

    #[sentinel::guarded(policy = "p")]
    fn close_boxed(self: Box<Self>, reason: &str) -> Result<u64, Denied> {
        let _ = reason;
        Ok(self.balance)
    }

    #[sentinel::guarded(policy = "p")]
    fn close_mut(mut self, fee: u64) -> Result<u64, Denied> {
        self.balance -= fee;
        Ok(self.balance)
    }

    #[sentinel::guarded(policy = "p")]
    fn open(balance: u64) -> Result<Self, Denied> {
        Ok(Wallet { balance })
    }
}

fn main() {
    let mut w = Wallet { balance: 10 };
    assert!(w.peek("a").is_err());
    assert!(w.spend(3).is_err());
    assert_eq!(w.balance, 10, "a denied call does not run the body");
    assert!(w.clone().close().is_err());
    assert!(Box::new(w.clone()).close_boxed("done").is_err());
    assert!(w.close_mut(1).is_err());
    assert!(Wallet::open(1).is_err());
}
