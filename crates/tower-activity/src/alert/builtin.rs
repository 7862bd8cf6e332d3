//! The rules most services want, with documented defaults that every builder
//! method of [`AlertRule`] can change.

use std::time::Duration;

use super::rule::{AlertKey, AlertRule, Detector};
use crate::event::{Action, ActorKind, Outcome};
use crate::store::ActivityFilter;

/// The action of a failed login that the failed-login rules count.
pub const FAILED_LOGIN_ACTION: &str = "auth.login.failed";

/// How many client IPs the admin new-IP rule remembers per admin unless told
/// otherwise ([`AlertRule::remembered_ips`]).
pub const DEFAULT_REMEMBERED_IPS: usize = 32;

const MINUTE: Duration = Duration::from_secs(60);

/// A failed login: an [`auth.login.failed`](FAILED_LOGIN_ACTION) event
/// whatever its outcome, or an `auth.login` event that did not succeed (what
/// a wrapped login handler answering `401` records).
fn failed_login() -> (ActivityFilter, ActivityFilter) {
    let failed = ActivityFilter::new().action(Action::system(FAILED_LOGIN_ACTION));
    let refused = ActivityFilter::new()
        .action(Action::system("auth.login"))
        .outcome(Outcome::Warning)
        .outcome(Outcome::Error)
        .outcome(Outcome::Critical);
    (failed, refused)
}

impl AlertRule {
    /// `failed_logins_per_ip`: 10 failed logins from one client IP within 5
    /// minutes, a password-guessing or credential-stuffing client. A failed
    /// login is an `auth.login.failed` event (any outcome), or an
    /// `auth.login` event whose outcome is not success.
    pub fn failed_logins_per_ip() -> Self {
        let (failed, refused) = failed_login();
        AlertRule::new("failed_logins_per_ip")
            .matching(failed)
            .or_matching(refused)
            .key(AlertKey::client_ip())
            .threshold(10)
            .window(5 * MINUTE)
    }

    /// `failed_logins_per_actor`: 5 failed logins for one actor (the account
    /// tried) within 15 minutes, from any number of IPs. Log the failed login
    /// with the account's actor for it to count; failed logins are matched as
    /// for [`failed_logins_per_ip`](Self::failed_logins_per_ip).
    pub fn failed_logins_per_actor() -> Self {
        let (failed, refused) = failed_login();
        AlertRule::new("failed_logins_per_actor")
            .matching(failed)
            .or_matching(refused)
            .key(AlertKey::actor())
            .threshold(5)
            .window(15 * MINUTE)
    }

    /// `forbidden_per_actor`: 20 responses of status `403` to one actor within
    /// 5 minutes, someone probing what they may not do. Matches on the
    /// event's HTTP status (a closure: it has no store filter).
    pub fn forbidden_per_actor() -> Self {
        AlertRule::new("forbidden_per_actor")
            .matching_fn(|event| event.http_status == Some(403))
            .key(AlertKey::actor())
            .threshold(20)
            .window(5 * MINUTE)
    }

    /// `mass_deletes_per_actor`: 50 successful `delete`s by one actor within 5
    /// minutes, a compromised account or a script gone wrong. Its alerts are
    /// [`Outcome::Critical`].
    pub fn mass_deletes_per_actor() -> Self {
        AlertRule::new("mass_deletes_per_actor")
            .matching(
                ActivityFilter::new()
                    .action(Action::Delete)
                    .outcome(Outcome::Success),
            )
            .key(AlertKey::actor())
            .threshold(50)
            .window(5 * MINUTE)
            .severity(Outcome::Critical)
    }

    /// `admin_new_ip`: an admin acting from a client IP not among the last
    /// [`DEFAULT_REMEMBERED_IPS`] it was seen with. The first event of an
    /// admin the rule is not tracking (after a restart, or once the admin has
    /// made way for others) only remembers its IP: it does not alert, as
    /// every admin would alert on every deployment otherwise. Events without
    /// an IP are not looked at.
    pub fn admin_new_ip() -> Self {
        let mut rule = AlertRule::new("admin_new_ip")
            .matching(ActivityFilter::new().actor_kind(ActorKind::Admin))
            .key(AlertKey::actor());
        rule.detector = Detector::NewIp {
            remembered: DEFAULT_REMEMBERED_IPS,
        };
        rule
    }

    /// The built-in rules, each with its defaults.
    pub fn builtins() -> [AlertRule; 5] {
        [
            AlertRule::failed_logins_per_ip(),
            AlertRule::failed_logins_per_actor(),
            AlertRule::forbidden_per_actor(),
            AlertRule::mass_deletes_per_actor(),
            AlertRule::admin_new_ip(),
        ]
    }

    /// How many client IPs the new-IP rule remembers per key (at least 1);
    /// a rule that counts ignores it.
    pub fn remembered_ips(mut self, remembered: usize) -> Self {
        if let Detector::NewIp { remembered: current } = &mut self.detector {
            *current = remembered.max(1);
        }
        self
    }
}
