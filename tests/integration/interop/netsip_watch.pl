#!/usr/bin/perl
# netsip_watch.pl --port PORT --local-port LPORT [--user alice]
#     [--password secret] [--resource sip:alice@example.test]
#     [--expires 600] [--count N] [--unsubscribe] [--timeout 20]
#
# An independent watcher of the reg event package (RFC 3680) written with
# Perl's Net::SIP: Net::SIP::Simple sets up the leg (127.0.0.1:LPORT, UDP)
# and the outgoing proxy 127.0.0.1:PORT (herald); the SUBSCRIBE goes
# through Net::SIP::Endpoint, whose context answers the 401 with digest
# credentials (Net::SIP skips the SHA-256 challenge and answers the MD5
# one). Every NOTIFY is answered 200 OK with Net::SIP's create_response,
# whether it comes before or after the SUBSCRIBE's 200.
#
# Prints, one line each, as things happen (stdout, unbuffered):
#   subscribe: CODE expires=N
#   notify: cseq=N event=E subscription-state=S version=V state=full|partial
#   body: HEX            (the NOTIFY's body, hex-encoded, for the caller
#                         to validate)
#   unsubscribe: CODE
# With --count N it stops after N distinct NOTIFYs (retransmissions are
# answered but not counted); with --unsubscribe it then sends an
# in-dialog SUBSCRIBE with Expires: 0 (To-tag of the 200, Request-URI its
# Contact) and waits for the NOTIFY with Subscription-State terminated.
# Exits 0 when all of that happened within --timeout seconds, 1 otherwise
# (reason on stderr).
use strict;
use warnings;
use Getopt::Long;
use Net::SIP;
use Net::SIP::Util ':all';

$| = 1;

my %o = (user => 'alice', password => 'secret', expires => 600,
	count => 1, timeout => 20);
GetOptions(\%o, 'port=i', 'local-port=i', 'user=s', 'password=s',
	'resource=s', 'expires=i', 'count=i', 'unsubscribe', 'timeout=i')
	&& $o{port} && $o{'local-port'}
	or die "usage: $0 --port PORT --local-port LPORT [--user U] "
	. "[--password P] [--resource URI] [--expires N] [--count N] "
	. "[--unsubscribe] [--timeout S]\n";
my $resource = $o{resource} || "sip:$o{user}\@example.test";
my $me = "sip:$o{user}\@example.test";

my $leg = Net::SIP::Leg->new(addr => '127.0.0.1', port => $o{'local-port'},
	proto => 'udp');
my $ua = Net::SIP::Simple->new(
	outgoing_proxy => "sip:127.0.0.1:$o{port}",
	domain => 'example.test',
	from   => $me,
	auth   => [ $o{user}, $o{password} ],
	leg    => $leg,
);
my $ep = $ua->{endpoint};
my $contact = "<sip:$o{user}-netsip\@127.0.0.1:$o{'local-port'}>";

my ($sub_code, $sub_response, $terminated, $unsub_code, $failed);
my %seen;        # CSeq numbers of the NOTIFYs already reported
my $notifies = 0;

sub fail {
	my $why = shift;
	print STDERR "$why\n";
	$failed = 1;
}

# One NOTIFY: answer 200, report it once.
sub on_notify {
	my ($ctx, $req, $leg, $from, $close) = @_;
	my $resp = $req->create_response(200, 'OK');
	$ep->new_response($ctx, $resp, $leg, $from);
	$ep->close_context($ctx) if $close;
	my ($cseq) = $req->cseq =~ m{^(\d+)};
	return if $seen{$cseq}++;
	my $body = ($req->as_parts)[3] // '';
	my ($version) = $body =~ m{<reginfo\b[^>]*\bversion="(\d+)"};
	my ($state) = $body =~ m{<reginfo\b[^>]*\bstate="(\w+)"};
	# without blanks, so that each value stays one word
	(my $ss = $req->get_header('subscription-state') // '') =~ s/\s+//g;
	(my $event = $req->get_header('event') // '') =~ s/\s+//g;
	printf "notify: cseq=%s event=%s subscription-state=%s version=%s "
		. "state=%s\n", $cseq, $event, $ss, $version // '-',
		$state // '-';
	print "body: ", unpack('H*', $body), "\n";
	$notifies++;
	$terminated = 1 if $ss =~ m{^\s*terminated}i;
}

# Requests outside any context (NOTIFYs after the SUBSCRIBE's 200).
$ep->set_application(sub {
	my ($endpoint, $ctx, $req, $leg, $from) = @_;
	if ($req->method eq 'NOTIFY') {
		on_notify($ctx, $req, $leg, $from, 1);
	} else {
		$ep->new_response($ctx, $req->create_response(405), $leg, $from);
		$ep->close_context($ctx);
	}
});

# The SUBSCRIBE's context callback: its responses (a 401 was already
# answered by the context) and any NOTIFY that overtook its 200.
my $sub_cb = sub {
	my ($endpoint, $ctx, $errno, $code, $packet, $leg, $from) = @_;
	if ($packet && $packet->is_request) {
		on_notify($ctx, $packet, $leg, $from, 0)
			if $packet->method eq 'NOTIFY';
		return;
	}
	if ($code) {
		$sub_code = $code;
		$sub_response = $packet;
		printf "subscribe: %s expires=%s\n", $code,
			$packet->get_header('expires') // '-';
	} else {
		fail("subscribe: failed (errno $errno)");
	}
};

$ep->new_request('SUBSCRIBE', {
		from    => $me,
		to      => $resource,
		contact => $contact,
		auth    => [ $o{user}, $o{password} ],
	}, $sub_cb, undef,
	uri     => $resource,
	event   => 'reg',
	accept  => 'application/reginfo+xml',
	expires => $o{expires},
);

my $deadline = time() + $o{timeout};
sub wait_for {
	my $cond = shift;
	while (!$cond->() && !$failed) {
		return 0 if time() >= $deadline;
		$ua->loop(0.1);
	}
	return $cond->() && !$failed;
}

wait_for(sub { defined $sub_code }) or do {
	print STDERR "no final response to SUBSCRIBE\n" unless $failed;
	exit 1;
};
if ($sub_code !~ m{^2}) {
	print STDERR "SUBSCRIBE failed: $sub_code\n";
	exit 1;
}
wait_for(sub { $notifies >= $o{count} }) or do {
	print STDERR "only $notifies NOTIFYs within $o{timeout} s\n";
	exit 1;
};

if ($o{unsubscribe}) {
	# in-dialog: our From (with its tag), the 200's To (with its tag),
	# Request-URI the 200's Contact, the next CSeq
	my $target = $sub_response->get_header('contact');
	$target = $1 if $target && $target =~ m{<([^>]+)>};
	my ($cseq) = $sub_response->cseq =~ m{^(\d+)};
	my $ctx = Net::SIP::Endpoint::Context->new(
		method  => 'SUBSCRIBE',
		from    => scalar($sub_response->get_header('from')),
		to      => scalar($sub_response->get_header('to')),
		callid  => scalar($sub_response->get_header('call-id')),
		cseq    => $cseq,
		contact => $contact,
	);
	$ep->{ctx}{ $ctx->callid } = $ctx;
	$ep->new_request('SUBSCRIBE', $ctx, sub {
		my ($endpoint, $c, $errno, $code, $packet, $leg, $from) = @_;
		if ($packet && $packet->is_request) {
			on_notify($c, $packet, $leg, $from, 0)
				if $packet->method eq 'NOTIFY';
			return;
		}
		$unsub_code = $code || "errno $errno";
		print "unsubscribe: $unsub_code\n";
	}, undef,
		uri     => $target || $resource,
		event   => 'reg',
		accept  => 'application/reginfo+xml',
		expires => 0,
	);
	wait_for(sub { defined $unsub_code && $terminated }) or do {
		print STDERR "no 200 and terminated NOTIFY after unsubscribe "
			. "within $o{timeout} s\n";
		exit 1;
	};
	if ($unsub_code !~ m{^2}) {
		print STDERR "unsubscribe failed: $unsub_code\n";
		exit 1;
	}
}
exit 0;
