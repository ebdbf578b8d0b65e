# testimage case: TEST_SUITES:append = " edgeflip" (needs ssh in the image).
# Written against oe-core master (2026-08) oeqa.
from oeqa.runtime.case import OERuntimeTestCase
from oeqa.core.decorator.depends import OETestDepends
from oeqa.runtime.decorator.package import OEHasPackage


class EdgeflipTest(OERuntimeTestCase):
    @OETestDepends(['ssh.SSHTest.test_ssh'])
    @OEHasPackage(['edgeflip'])
    def test_edgeflip_version(self):
        status, output = self.target.run('edgeflip version')
        self.assertEqual(status, 0, msg=output)
        self.assertTrue(output.startswith('edgeflip '), msg=output)

    @OETestDepends(['edgeflip.EdgeflipTest.test_edgeflip_version'])
    def test_edgeflip_config_installed(self):
        status, output = self.target.run('test -f /etc/edgeflip/edgeflip.ini.example')
        self.assertEqual(status, 0, msg='/etc/edgeflip/edgeflip.ini.example is missing')
