#!/usr/bin/perl
# netsip_register.pl --port PORT --local-port LPORT [--user alice]
#     [--password secret] [--expires 60] [--registrar URI]
#
# Registers sip:USER@example.test with Perl's Net::SIP::Simple (digest
# authentication; Net::SIP skips the SHA-256 challenge and answers the MD5
# one) at the registrar on 127.0.0.1:PORT, from 127.0.0.1:LPORT.
#
# Without --registrar the REGISTER's Request-URI is sip:example.test and
# 127.0.0.1:PORT is the outgoing proxy (how a phone with a domain and a
# separate server address registers). With --registrar URI the Request-URI
# is URI and the request goes to its host (Net::SIP's plain
# registrar => "127.0.0.1:PORT" form).
#
# Prints "status: CODE" of the final response and "contact: VALUE" for each
# of its Contacts; exits 0 on a 2xx, 1 otherwise (error on stderr).
use strict;
use warnings;
use Getopt::Long;
use Net::SIP;

my %o = (user => 'alice', password => 'secret', expires => 60);
GetOptions(\%o, 'port=i', 'local-port=i', 'user=s', 'password=s',
	'expires=i', 'registrar=s') && $o{port} && $o{'local-port'}
	or die "usage: $0 --port PORT --local-port LPORT [--user U] "
	. "[--password P] [--expires N] [--registrar URI]\n";

my $leg = Net::SIP::Leg->new(addr => '127.0.0.1', port => $o{'local-port'},
	proto => 'udp');
my %via = $o{registrar}
	? (registrar => $o{registrar})
	: (registrar => 'sip:example.test',
	   outgoing_proxy => "sip:127.0.0.1:$o{port}");
my $ua = Net::SIP::Simple->new(
	%via,
	domain => 'example.test',
	from   => "sip:$o{user}\@example.test",
	auth   => [ $o{user}, $o{password} ],
	leg    => $leg,
);

my ($result, $final, $code, $done);
$ua->register(
	expires  => $o{expires},
	cb_final => sub {
		my ($status, %info) = @_;
		($result, $final, $code) = ($status, $info{packet}, $info{code});
		$done = 1;
	},
);
$ua->loop(20, \$done);
if (!$done) {
	print STDERR "register: no final response within 20 s\n";
	exit 1;
}
if ($final) {
	printf "status: %s\n", $final->code;
	print "contact: $_\n" for $final->get_header('contact');
}
if ($result ne 'OK') {
	print STDERR "register failed: ", ($ua->error || $code || 'unknown'),
		"\n";
	exit 1;
}
exit 0;
