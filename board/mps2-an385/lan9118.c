#include "lan9118.h"

#include <stdbool.h>
#include <string.h>

#include "lwip/etharp.h"
#include "lwip/pbuf.h"
#include "mps2.h"
#include "netif/ethernet.h"

/* Directly addressed registers (offsets from the base). */
#define LAN_RX_DATA_FIFO 0x00u
#define LAN_TX_DATA_FIFO 0x20u
#define LAN_RX_STATUS_FIFO 0x40u
#define LAN_TX_STATUS_FIFO 0x48u
#define LAN_ID_REV 0x50u
#define LAN_INT_STS 0x58u
#define LAN_BYTE_TEST 0x64u
#define LAN_TX_CFG 0x70u
#define LAN_HW_CFG 0x74u
#define LAN_RX_FIFO_INF 0x7Cu
#define LAN_TX_FIFO_INF 0x80u
#define LAN_PMT_CTRL 0x84u
#define LAN_MAC_CSR_CMD 0xA4u
#define LAN_MAC_CSR_DATA 0xA8u

#define LAN_BYTE_TEST_VALUE 0x87654321u
#define LAN_HW_CFG_SRST 0x1u
#define LAN_PMT_READY 0x1u
#define LAN_TX_CFG_TX_ON 0x2u
#define LAN_TX_CFG_TXSAO 0x4u /* TX status may overrun: nobody reads it */
#define LAN_CSR_BUSY 0x80000000u
#define LAN_CSR_READ 0x40000000u

/* MAC registers behind MAC_CSR_CMD/DATA. */
#define LAN_MAC_CR 1u
#define LAN_MAC_ADDRH 2u
#define LAN_MAC_ADDRL 3u
#define LAN_MAC_CR_TXEN 0x8u
#define LAN_MAC_CR_RXEN 0x4u
#define LAN_MAC_CR_FDPX 0x100000u

/* TX command words. */
#define LAN_TXA_FIRST 0x2000u
#define LAN_TXA_LAST 0x1000u
/* RX status word. */
#define LAN_RXS_ERROR 0x8000u
#define LAN_RXS_LENGTH(s) (((s) >> 16) & 0x3FFFu)

#define LAN_FRAME_BYTES 1536u
#define LAN_FCS_BYTES 4u
#define LAN_SPIN_LIMIT 100000u

static uint32_t reg_read(const lan9118 *lan, uint32_t off)
{
    return MPS2_REG(lan->base + off);
}

static void reg_write(const lan9118 *lan, uint32_t off, uint32_t value)
{
    MPS2_REG(lan->base + off) = value;
}

static int csr_wait(const lan9118 *lan)
{
    for (uint32_t spin = 0; spin < LAN_SPIN_LIMIT; spin++) {
        if ((reg_read(lan, LAN_MAC_CSR_CMD) & LAN_CSR_BUSY) == 0u) {
            return 0;
        }
    }
    return -1;
}

static uint32_t mac_read(const lan9118 *lan, uint32_t index)
{
    reg_write(lan, LAN_MAC_CSR_CMD, LAN_CSR_BUSY | LAN_CSR_READ | index);
    (void)csr_wait(lan);
    return reg_read(lan, LAN_MAC_CSR_DATA);
}

static void mac_write(const lan9118 *lan, uint32_t index, uint32_t value)
{
    reg_write(lan, LAN_MAC_CSR_DATA, value);
    reg_write(lan, LAN_MAC_CSR_CMD, LAN_CSR_BUSY | index);
    (void)csr_wait(lan);
}

/* The TX data FIFO takes whole 32-bit words: the pbuf chain's bytes are
 * packed into words as they come (no frame-sized copy). */
static err_t lan_linkoutput(struct netif *netif, struct pbuf *p)
{
    lan9118 *lan = netif->state;
    uint32_t len = p->tot_len;
    if (len > LAN_FRAME_BYTES) {
        lan->tx_dropped++;
        return ERR_BUF;
    }
    uint32_t words = (len + 3u) / 4u;
    /* Wait (bounded) for room in the TX data FIFO: the chip drains it at
     * line rate. */
    uint32_t spin = 0;
    while ((reg_read(lan, LAN_TX_FIFO_INF) & 0xFFFFu) < words * 4u + 8u) {
        if (++spin > LAN_SPIN_LIMIT) {
            lan->tx_dropped++;
            return ERR_IF;
        }
    }
    reg_write(lan, LAN_TX_DATA_FIFO, LAN_TXA_FIRST | LAN_TXA_LAST | len);
    reg_write(lan, LAN_TX_DATA_FIFO, (len << 16) | len); /* tag, length */
    uint32_t word = 0;
    uint32_t filled = 0;
    for (const struct pbuf *q = p; q != NULL; q = q->next) {
        const uint8_t *bytes = q->payload;
        for (uint32_t i = 0; i < q->len; i++) {
            word |= (uint32_t)bytes[i] << (8u * filled); /* little-endian FIFO */
            if (++filled == 4u) {
                reg_write(lan, LAN_TX_DATA_FIFO, word);
                word = 0;
                filled = 0;
            }
        }
    }
    if (filled > 0u) {
        reg_write(lan, LAN_TX_DATA_FIFO, word);
    }
    lan->tx_frames++;
    /* Pop the TX statuses (nothing to learn from them on a polled link):
     * a full status FIFO would stall the transmitter on some chips. */
    for (uint32_t n = (reg_read(lan, LAN_TX_FIFO_INF) >> 16) & 0xFFu; n > 0u; n--) {
        (void)reg_read(lan, LAN_TX_STATUS_FIFO);
    }
    return ERR_OK;
}

err_t lan9118_netif_init(struct netif *netif)
{
    lan9118 *lan = netif->state;
    if (reg_read(lan, LAN_BYTE_TEST) != LAN_BYTE_TEST_VALUE) {
        return ERR_IF;
    }
    reg_write(lan, LAN_HW_CFG, LAN_HW_CFG_SRST);
    uint32_t spin = 0;
    while ((reg_read(lan, LAN_HW_CFG) & LAN_HW_CFG_SRST) != 0u ||
           (reg_read(lan, LAN_PMT_CTRL) & LAN_PMT_READY) == 0u) {
        if (++spin > LAN_SPIN_LIMIT) {
            return ERR_IF;
        }
    }
    uint32_t low = mac_read(lan, LAN_MAC_ADDRL);
    uint32_t high = mac_read(lan, LAN_MAC_ADDRH);
    uint8_t mac[6] = {(uint8_t)low,         (uint8_t)(low >> 8), (uint8_t)(low >> 16),
                      (uint8_t)(low >> 24), (uint8_t)high,       (uint8_t)(high >> 8)};
    if ((low | (high & 0xFFFFu)) == 0u || (mac[0] & 1u) != 0u) {
        /* No address programmed: a fixed, locally administered one. */
        static const uint8_t fallback[6] = {0x02, 0x4e, 0x45, 0x4d, 0x50, 0x32};
        memcpy(mac, fallback, sizeof(mac));
        mac_write(lan, LAN_MAC_ADDRL,
                  (uint32_t)mac[0] | (uint32_t)mac[1] << 8 | (uint32_t)mac[2] << 16 |
                      (uint32_t)mac[3] << 24);
        mac_write(lan, LAN_MAC_ADDRH, (uint32_t)mac[4] | (uint32_t)mac[5] << 8);
    }
    mac_write(lan, LAN_MAC_CR, LAN_MAC_CR_TXEN | LAN_MAC_CR_RXEN | LAN_MAC_CR_FDPX);
    reg_write(lan, LAN_TX_CFG, LAN_TX_CFG_TX_ON | LAN_TX_CFG_TXSAO);

    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->output = etharp_output;
    netif->linkoutput = lan_linkoutput;
    netif->mtu = 1500;
    netif->hwaddr_len = 6;
    memcpy(netif->hwaddr, mac, 6);
    netif->flags =
        NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
    return ERR_OK;
}

/* Moves one received frame of `len` bytes (FCS included) out of the RX data
 * FIFO, into `p` when there is one: its payload is one contiguous pool
 * buffer (PBUF_POOL_BUFSIZE holds a whole frame), word-aligned. */
static void rx_copy(lan9118 *lan, uint32_t len, struct pbuf *p)
{
    uint32_t words = (len + 3u) / 4u;
    uint32_t keep = p != NULL ? p->len : 0u;
    uint8_t *dst = p != NULL ? p->payload : NULL;
    for (uint32_t i = 0; i < words; i++) {
        uint32_t w = reg_read(lan, LAN_RX_DATA_FIFO);
        uint32_t at = i * 4u;
        if (at + 4u <= keep) {
            memcpy(dst + at, &w, 4);
        } else if (at < keep) {
            memcpy(dst + at, &w, keep - at);
        }
    }
}

int lan9118_poll(struct netif *netif, int max)
{
    lan9118 *lan = netif->state;
    int frames = 0;
    for (; frames < max; frames++) {
        if (((reg_read(lan, LAN_RX_FIFO_INF) >> 16) & 0xFFu) == 0u) {
            break; /* no status word: no frame */
        }
        uint32_t status = reg_read(lan, LAN_RX_STATUS_FIFO);
        uint32_t len = LAN_RXS_LENGTH(status);
        mps2_entropy_stir(status);
        bool good = (status & LAN_RXS_ERROR) == 0u && len > LAN_FCS_BYTES && len <= LAN_FRAME_BYTES;
        struct pbuf *p = NULL;
        if (good) {
            p = pbuf_alloc(PBUF_RAW, (u16_t)(len - LAN_FCS_BYTES), PBUF_POOL);
            if (p != NULL && p->next != NULL) {
                pbuf_free(p); /* a chained pool buffer: lwipopts.h is wrong */
                p = NULL;
            }
        }
        /* The frame's words leave the FIFO whatever happens to them. */
        rx_copy(lan, len, p);
        if (!good) {
            lan->rx_errors++;
            continue;
        }
        if (p == NULL) {
            lan->rx_dropped++; /* pool exhausted: TCP resends */
            continue;
        }
        lan->rx_frames++;
        if (netif->input(p, netif) != ERR_OK) {
            pbuf_free(p);
        }
    }
    return frames;
}
