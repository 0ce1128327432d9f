package main

import (
	"encoding/binary"
	"errors"
	"syscall"
)

// kubeProxyNfacctCounters are the nfacct (netfilter accounting) counters kube-proxy creates
// through netlink and leaves behind; up records those that did not exist and down deletes
// them, through nfnetlink directly (no nfacct command needed).
var kubeProxyNfacctCounters = []string{"ct_state_invalid_dropped_pkts", "localhost_nps_accepted_pkts"}

const (
	nfnlSubsysAcct = 7
	nfnlMsgAcctGet = 1
	nfnlMsgAcctDel = 3 // NFNL_MSG_ACCT_DEL (2 is GET_CTRZERO)
	nfacctAttrName = 1
)

// nfacct sends one nfnetlink accounting request about a named counter and returns the
// kernel's error (nil, ENOENT when no such counter, EBUSY when in use...).
func nfacct(cmd uint16, name string) error {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_NETFILTER)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return err
	}
	attr := append([]byte(name), 0)
	attrLen := 4 + len(attr)
	attrPadded := (attrLen + 3) &^ 3
	msgLen := syscall.NLMSG_HDRLEN + 4 + attrPadded
	b := make([]byte, msgLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(msgLen))
	ne.PutUint16(b[4:], nfnlSubsysAcct<<8|cmd)
	ne.PutUint16(b[6:], syscall.NLM_F_REQUEST|syscall.NLM_F_ACK)
	ne.PutUint32(b[8:], 1) // sequence
	// nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id 0
	o := syscall.NLMSG_HDRLEN + 4
	ne.PutUint16(b[o:], uint16(attrLen))
	ne.PutUint16(b[o+2:], nfacctAttrName)
	copy(b[o+4:], attr)
	if err := syscall.Sendto(fd, b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	for i := 0; i < 10; i++ {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Type == syscall.NLMSG_ERROR && len(m.Data) >= 4 {
				if code := int32(ne.Uint32(m.Data[:4])); code != 0 {
					return syscall.Errno(-code)
				}
				return nil
			}
		}
	}
	return errors.New("no acknowledgement from netlink")
}

func nfacctExists(name string) (bool, error) {
	err := nfacct(nfnlMsgAcctGet, name)
	if errors.Is(err, syscall.ENOENT) {
		return false, nil
	}
	return err == nil, err
}
