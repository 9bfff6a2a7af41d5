# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   lesson:
#     summary:
#       vi: "Tích chập giãn từ đầu, hiện tượng lưới, trọng số hợp lệ, cái giá của output stride, multi-grid"
#       en: "Dilated convolution from scratch, gridding, valid weights, the price of output stride, multi-grid"
# ---

# %% [markdown] lang="vi"
# # Bài 02 — Tích chập giãn (atrous): tự cài đặt, hiện tượng lưới, trọng số hợp lệ và cái giá của output stride
#
# **Mục tiêu của bài**
#
# 1. Hiểu tích chập giãn (*dilated / atrous convolution*) làm gì với nhân tích chập (*kernel*), và vì sao nó mở rộng trường tiếp nhận (*receptive field*) mà **không thêm tham số**.
# 2. Tự viết công thức kích thước đầu ra và tự cài đặt tích chập giãn theo hai cách (chèn số 0 vào nhân; gom các điểm lấy mẫu bằng `unfold`), rồi so với `F.conv2d(..., dilation=r)`.
# 3. Nhìn thấy hiện tượng lưới (*gridding*) khi chồng nhiều lớp cùng hệ số giãn, và cách chữa bằng hệ số giãn hỗn hợp.
# 4. Tái tạo Hình 4 của DeepLabv3: số trọng số hợp lệ (*valid weights*) giảm khi hệ số giãn tăng, và hiểu vì sao DeepLabv3 thêm nhánh đặc trưng mức ảnh (*image-level feature*, *image pooling*).
# 5. Đo cái giá của tỉ lệ giảm kích thước đầu ra (*output stride*) 32 / 16 / 8 trên ResNet-50: kích thước bản đồ đặc trưng (*feature map*), FLOPs, bộ nhớ kích hoạt đỉnh (*peak activation memory*), độ trễ (*latency*) trên CPU; rồi tìm hiểu đa lưới (*multi-grid*).

# %% [markdown] lang="en"
# # Lesson 02 — Dilated (atrous) convolution: from scratch, gridding, valid weights and the price of output stride
#
# **Goals**
#
# 1. Understand what dilated (atrous) convolution does to a kernel, and why it enlarges the receptive field **without adding parameters**.
# 2. Write the output-size formula and implement dilated convolution yourself in two ways (inserting zeros into the kernel; gathering the input taps with `unfold`), then compare with `F.conv2d(..., dilation=r)`.
# 3. See the gridding artefact that appears when layers with the same rate are stacked, and the hybrid-rate fix.
# 4. Reproduce Fig. 4 of DeepLabv3: the number of valid weights falls as the rate grows, and understand why DeepLabv3 adds image pooling.
# 5. Measure the price of output stride 32 / 16 / 8 on a ResNet-50: feature-map size, FLOPs, peak activation memory, CPU latency; then look at multi-grid.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from skimage import data as skdata

from src import checks
from src import dilated as dil

src.seed_everything(0)
torch.set_num_threads(2)

# %% [markdown] lang="vi"
# ## 1. Tích chập giãn là gì?
#
# Tích chập thường với nhân $k \times k$ nhìn vào $k \times k$ điểm ảnh **liền kề**. Tích chập giãn với hệ số giãn (*dilation rate*) $r$ vẫn dùng đúng $k \times k$ trọng số, nhưng các điểm lấy mẫu (*tap*) cách nhau $r$ điểm ảnh. Theo một trục:
#
# $$y[i] = \sum_{t=0}^{k-1} w[t]\; x[i + r\,t].$$
#
# Khi $r = 1$ ta có lại tích chập thường. Tên "atrous" lấy từ thuật toán *à trous* ("có lỗ") trong xử lý tín hiệu wavelet (Holschneider và cộng sự, 1989): đặt giữa các trọng số $r-1$ "lỗ", tức các số 0. Nhân sau khi chèn số 0 có kích thước hiệu dụng
#
# $$k_{\text{eff}} = k + (k-1)(r-1) = r(k-1) + 1,$$
#
# nên một lớp $3\times 3$ với $r = 6$ phủ một ô $13 \times 13$ nhưng chỉ có 9 trọng số. Số tham số $k^2 C_{\text{in}} C_{\text{out}}$ không đổi, số phép nhân cho mỗi điểm đầu ra cũng không đổi: ta mở rộng trường tiếp nhận "miễn phí", không phải giảm độ phân giải như khi dùng bước trượt (*stride*) hay phép gộp (*pooling*).
#
# Hình dưới vẽ cùng một nhân $3 \times 3$ ở các hệ số giãn 1, 2, 3: các ô trắng là những số 0 được chèn vào.

# %% [markdown] lang="en"
# ## 1. What is dilated convolution?
#
# An ordinary convolution with a $k \times k$ kernel looks at $k \times k$ **adjacent** pixels. A dilated convolution with rate $r$ keeps exactly the same $k \times k$ weights, but its taps are $r$ pixels apart. Along one axis:
#
# $$y[i] = \sum_{t=0}^{k-1} w[t]\; x[i + r\,t].$$
#
# With $r = 1$ we are back to ordinary convolution. The name "atrous" comes from the *algorithme à trous* ("with holes") of wavelet signal processing (Holschneider et al., 1989): put $r-1$ "holes", i.e. zeros, between the weights. After inserting the zeros the kernel spans
#
# $$k_{\text{eff}} = k + (k-1)(r-1) = r(k-1) + 1,$$
#
# so a $3\times 3$ layer with $r = 6$ covers a $13 \times 13$ window with only 9 weights. The parameter count $k^2 C_{\text{in}} C_{\text{out}}$ is unchanged, and so is the number of multiplications per output: the receptive field grows "for free", without lowering the resolution as a stride or pooling would.
#
# The figure below draws the same $3 \times 3$ kernel at rates 1, 2 and 3: the white cells are the inserted zeros.

# %%
kernel = torch.arange(1.0, 10.0).view(3, 3)
fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.6))
for ax, rate in zip(axes, (1, 2, 3)):
    k = dil.dilate_kernel(kernel, rate)
    ax.imshow(np.ma.masked_equal(k.numpy(), 0), cmap="viridis", vmin=0, vmax=9)
    for (i, j), v in np.ndenumerate(k.numpy()):
        ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="white" if v else "0.6")
    ax.set_title(f"r = {rate}: {k.shape[0]}×{k.shape[1]}", fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
fig.tight_layout()

# %% [markdown] lang="vi"
# ### Bài tập 02-1 — Nhân có chèn số 0
#
# Viết `dilate_kernel(weight, rate)`: nhận một tensor có hai chiều cuối là $k_h \times k_w$ (có thể có thêm các chiều phía trước, ví dụ $C_{\text{out}} \times C_{\text{in}} \times k_h \times k_w$) và trả về nhân kích thước $r(k_h-1)+1 \times r(k_w-1)+1$, trong đó các trọng số gốc nằm cách nhau $r$ ô, phần còn lại bằng 0.

# %% [markdown] lang="en"
# ### Exercise 02-1 — The zero-inserted kernel
#
# Write `dilate_kernel(weight, rate)`: it takes a tensor whose last two dimensions are $k_h \times k_w$ (possibly with leading dimensions, e.g. $C_{\text{out}} \times C_{\text{in}} \times k_h \times k_w$) and returns a kernel of size $r(k_h-1)+1 \times r(k_w-1)+1$ where the original weights sit $r$ cells apart and everything else is zero.


# %%
def dilate_kernel(weight, rate):
    ### BEGIN SOLUTION
    kh, kw = weight.shape[-2:]
    out = weight.new_zeros((*weight.shape[:-2], rate * (kh - 1) + 1, rate * (kw - 1) + 1))
    out[..., ::rate, ::rate] = weight
    return out
    ### END SOLUTION


# %%
result = checks.check_dilate_kernel(dilate_kernel)

# %% [markdown] lang="vi"
# ## 2. Kích thước đầu ra
#
# Với đầu vào dài $n$, phần đệm (*padding*) $p$ mỗi bên, bước trượt $s$ và nhân $k$, tích chập thường cho $\lfloor (n + 2p - k)/s \rfloor + 1$ vị trí (Dumoulin và Visin, arXiv 1603.07285). Tích chập giãn chỉ là tích chập thường với nhân $k_{\text{eff}}$, nên
#
# $$n_{\text{out}} = \left\lfloor \frac{n + 2p - r(k-1) - 1}{s} \right\rfloor + 1.$$
#
# Hệ quả quan trọng: với $s = 1$ và $k$ lẻ, chọn $p = r(k-1)/2$ thì $n_{\text{out}} = n$ (phần đệm "same"). Vì vậy trong DeepLab, một nhánh $3\times3$ có hệ số giãn 12 luôn đi kèm `padding=12`.
#
# ### Bài tập 02-2 — Công thức kích thước đầu ra
#
# Viết `atrous_output_size(input_size, kernel_size, rate, padding, stride)` trả về một số nguyên.

# %% [markdown] lang="en"
# ## 2. The output size
#
# For an input of length $n$, padding $p$ on each side, stride $s$ and a kernel of size $k$, ordinary convolution gives $\lfloor (n + 2p - k)/s \rfloor + 1$ positions (Dumoulin & Visin, arXiv 1603.07285). Dilated convolution is ordinary convolution with the kernel $k_{\text{eff}}$, so
#
# $$n_{\text{out}} = \left\lfloor \frac{n + 2p - r(k-1) - 1}{s} \right\rfloor + 1.$$
#
# An important consequence: with $s = 1$ and an odd $k$, choosing $p = r(k-1)/2$ gives $n_{\text{out}} = n$ ("same" padding). This is why in DeepLab a $3\times3$ branch with rate 12 always comes with `padding=12`.
#
# ### Exercise 02-2 — The output-size formula
#
# Write `atrous_output_size(input_size, kernel_size, rate, padding, stride)` returning an integer.


# %%
def atrous_output_size(input_size, kernel_size, rate=1, padding=0, stride=1):
    ### BEGIN SOLUTION
    return (input_size + 2 * padding - rate * (kernel_size - 1) - 1) // stride + 1
    ### END SOLUTION


# %%
result = checks.check_atrous_output_size(atrous_output_size)

# %% [markdown] lang="vi"
# Bảng dưới dùng lời giải tham chiếu trong `src` và đối chiếu với kích thước mà `F.conv2d` thật sự trả về.

# %% [markdown] lang="en"
# The table below uses the reference solution in `src` and checks it against the size `F.conv2d` actually returns.

# %%
# NBVAL_CHECK_OUTPUT
rows = []
for n, k, r, p, s in [(65, 3, 1, 1, 1), (65, 3, 6, 0, 1), (65, 3, 12, 12, 1), (64, 3, 2, 2, 2), (512, 7, 1, 3, 2)]:
    formula = dil.atrous_output_size(n, k, r, p, s)
    actual = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=r).shape[-1]
    rows.append(
        {
            "n": n,
            "k": k,
            "rate": r,
            "padding": p,
            "stride": s,
            "k_eff": dil.effective_kernel_size(k, r),
            "formula": formula,
            "conv2d": actual,
        }
    )
print(pd.DataFrame(rows).to_string(index=False))

# %% [markdown] lang="vi"
# ## 3. Tự cài đặt tích chập giãn theo hai cách
#
# `src.dilated` có hai cách cài đặt, không cách nào truyền `dilation=` cho một phép tích chập:
#
# - **Chèn số 0** (`atrous_conv2d_zero_insert`): dựng nhân có chèn số 0 như bài tập 02-1 rồi gọi `F.conv2d` thường. Dễ hiểu nhưng lãng phí: nhân $3\times3$ với $r = 12$ thành $25 \times 25$, phần lớn phép nhân là nhân với 0.
# - **Gom các điểm lấy mẫu** (`atrous_conv2d_unfold`): `x.unfold(2, k_eff, 1).unfold(3, k_eff, 1)` tạo một *view* (không chép dữ liệu) gồm mọi cửa sổ $k_{\text{eff}} \times k_{\text{eff}}$; lấy `[..., ::r, ::r]` giữ lại đúng $k \times k$ điểm lấy mẫu mà nhân chạm tới; cuối cùng `einsum("nchwij,ocij->nohw")` nhân với trọng số và cộng lại. Số phép nhân đúng bằng $k^2$ cho mỗi điểm, như cài đặt thật trong các thư viện.
#
# Ô dưới so sánh cả hai với `F.conv2d(..., dilation=r)` trên dữ liệu ngẫu nhiên với nhiều hệ số giãn (kiểm thử trong `tests/test_dilated.py` còn thử ngẫu nhiên kênh, phần đệm, kích thước chẵn/lẻ bằng hypothesis).

# %% [markdown] lang="en"
# ## 3. Dilated convolution from scratch, two ways
#
# `src.dilated` implements it in two ways, neither of which passes `dilation=` to a convolution:
#
# - **Insert zeros** (`atrous_conv2d_zero_insert`): build the zero-inserted kernel of exercise 02-1 and call a plain `F.conv2d`. Easy to follow but wasteful: a $3\times3$ kernel at $r = 12$ becomes $25 \times 25$, and most multiplications are by zero.
# - **Gather the taps** (`atrous_conv2d_unfold`): `x.unfold(2, k_eff, 1).unfold(3, k_eff, 1)` makes a *view* (no copy) of every $k_{\text{eff}} \times k_{\text{eff}}$ window; `[..., ::r, ::r]` keeps exactly the $k \times k$ taps the kernel touches; finally `einsum("nchwij,ocij->nohw")` multiplies by the weights and sums. That is exactly $k^2$ multiplications per output, as in real library implementations.
#
# The cell below compares both with `F.conv2d(..., dilation=r)` on random data at several rates (the tests in `tests/test_dilated.py` also draw channels, paddings and odd/even sizes at random with hypothesis).

# %%
# NBVAL_CHECK_OUTPUT
x = torch.randn(2, 3, 33, 34, dtype=torch.float64)
w = torch.randn(8, 3, 3, 3, dtype=torch.float64)
b = torch.randn(8, dtype=torch.float64)
for rate in (1, 2, 6, 12):
    reference = F.conv2d(x, w, b, padding=rate, dilation=rate)
    same = [
        torch.allclose(dil.atrous_conv2d(x, w, b, rate, "same", method), reference) for method in ("zeros", "unfold")
    ]
    print(f"rate {rate:2d}: output {tuple(reference.shape)}, zeros == conv2d: {same[0]}, unfold == conv2d: {same[1]}")

# %% [markdown] lang="vi"
# Trên một ảnh thật: cùng **9 trọng số** của một bộ lọc Laplace $3\times 3$, áp dụng với $r = 1$ thì chỉ phản ứng với các chi tiết nhỏ (cạnh mảnh, vân cỏ), còn với $r = 6$ thì phản ứng với các cấu trúc lớn hơn nhiều: hệ số giãn chọn **tỉ lệ** mà bộ lọc nhìn thấy. Khung sáng quanh ảnh ở $r = 6$ đến từ các điểm lấy mẫu rơi vào phần đệm 0 bên ngoài ảnh; mục 5 sẽ đếm chính hiện tượng này.

# %% [markdown] lang="en"
# On a real photo: the same **9 weights** of a $3\times 3$ Laplacian filter respond only to fine detail (thin edges, grass texture) at $r = 1$, and to much larger structures at $r = 6$: the rate chooses the **scale** the filter sees. The bright frame around the image at $r = 6$ comes from taps that fall into the zero padding outside the image; section 5 counts exactly this effect.

# %%
photo = torch.from_numpy(skdata.camera()[::4, ::4].astype(np.float32) / 255.0)[None, None]
laplace = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])[None, None]
fig, axes = plt.subplots(1, 3, figsize=(7, 2.5), dpi=72)
axes[0].imshow(photo[0, 0], cmap="gray")
axes[0].set_title(src.tr("ảnh", "image"), fontsize=9)
for ax, rate in zip(axes[1:], (1, 6)):
    response = dil.atrous_conv2d(photo, laplace, rate=rate, padding="same")[0, 0].abs()
    ax.imshow(response, cmap="magma", vmax=float(response.quantile(0.99)), interpolation="nearest")
    ax.set_title(f"|Laplace|, r = {rate}", fontsize=9)
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()

# %% [markdown] lang="vi"
# ## 4. Hiện tượng lưới (*gridding*)
#
# Chồng $L$ lớp $3\times3$ có hệ số giãn $r_1, \dots, r_L$ (bước trượt 1) cho trường tiếp nhận
#
# $$\text{RF} = 1 + 2\sum_{l=1}^{L} r_l .$$
#
# Nhưng trường tiếp nhận chỉ là **khung bao**: không phải điểm ảnh nào trong khung cũng thật sự đến được điểm đầu ra. Nếu mọi $r_l$ đều bằng 2, mọi độ dời từ đầu vào đến đầu ra đều là số chẵn, nên chỉ các hàng và cột cách một trong khung đóng góp, khoảng một phần tư số điểm ảnh (0,290 với ba lớp ở bảng dưới): một bàn cờ có lỗ. Đó là hiện tượng lưới, được Wang và cộng sự (arXiv 1702.08502) phân tích; họ đề xuất tích chập giãn hỗn hợp (*hybrid dilated convolution*, HDC): chọn các hệ số giãn của một nhóm lớp sao cho chúng không có ước chung lớn hơn 1 **và** khoảng cách lớn nhất còn sót lại giữa hai điểm lấy mẫu không vượt quá kích thước nhân (điều kiện $M_2 \le K$ của họ), ví dụ $(1, 2, 3)$ hay $(1, 2, 5)$; khi đó các lỗ được lấp kín. Chỉ riêng điều kiện "không có ước chung" thì chưa đủ: $(1, 2, 9)$ không có ước chung mà vẫn để lại lỗ (bảng dưới).
#
# `dil.gridding_footprint(rates)` tính, cho một điểm đầu ra, số đường đi từ mỗi điểm ảnh đầu vào qua chồng lớp (bằng cách tích chập một xung đơn vị với các nhân toàn số 1 đã chèn số 0). Ô bằng 0 là điểm ảnh không bao giờ được nhìn thấy.

# %% [markdown] lang="en"
# ## 4. The gridding artefact
#
# Stacking $L$ $3\times3$ layers with rates $r_1, \dots, r_L$ (stride 1) gives a receptive field of
#
# $$\text{RF} = 1 + 2\sum_{l=1}^{L} r_l .$$
#
# But the receptive field is only a **bounding box**: not every pixel inside it actually reaches the output. If every $r_l$ equals 2, every offset from input to output is even, so only every other row and column of the box contributes, about a quarter of its pixels (0.290 for the three layers in the table below): a checkerboard with holes. This is the gridding artefact analysed by Wang et al. (arXiv 1702.08502); their hybrid dilated convolution (HDC) picks the rates of a group of layers so that they have no common factor greater than 1 **and** the largest gap left between two taps is no wider than the kernel (their condition $M_2 \le K$), such as $(1, 2, 3)$ or $(1, 2, 5)$; then the holes are filled. Having no common factor is not enough on its own: $(1, 2, 9)$ has none and still leaves holes (table below).
#
# `dil.gridding_footprint(rates)` computes, for one output pixel, the number of paths from each input pixel through the stack (by convolving a unit impulse with all-ones zero-inserted kernels). A zero means a pixel that is never seen.

# %%
# NBVAL_CHECK_OUTPUT
stacks = {
    "(1, 1, 1)": [1, 1, 1],
    "(2, 2, 2)": [2, 2, 2],
    "(1, 2, 3)": [1, 2, 3],
    "(3, 3, 3)": [3, 3, 3],
    "(1, 2, 5)": [1, 2, 5],
    "(1, 2, 9)": [1, 2, 9],
}
table = pd.DataFrame(
    [
        {"rates": name, "RF": dil.gridding_footprint(r).shape[0], "coverage": round(dil.gridding_coverage(r), 3)}
        for name, r in stacks.items()
    ]
)
print(table.to_string(index=False))

# %%
fig, axes = plt.subplots(1, 3, figsize=(8, 2.9))
for ax, name in zip(axes, ["(2, 2, 2)", "(1, 2, 3)", "(1, 2, 5)"]):
    fp = dil.gridding_footprint(stacks[name]).float()
    ax.imshow(np.ma.masked_equal(fp.numpy(), 0), cmap="viridis")
    ax.set_facecolor("0.92")
    ax.set_title(src.tr(f"hệ số giãn {name}", f"rates {name}"), fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
fig.suptitle(
    src.tr(
        "Điểm ảnh đến được một điểm đầu ra (xám: không bao giờ)", "Input pixels that reach one output (grey: never)"
    ),
    fontsize=10,
)
fig.tight_layout()

# %% [markdown] lang="vi"
# Bảng và hình trên cho thấy: với $(2,2,2)$ trường tiếp nhận rộng bằng $(1,2,3)$ nhưng độ phủ chỉ bằng một phần nhỏ; $(1,2,3)$ và $(1,2,5)$ phủ kín, còn $(1,2,9)$ thì không dù ba hệ số không có ước chung. Màu cũng cho thấy một điều mà khung bao không nói: số đường đi khác nhau giữa các điểm ảnh. Với $(2,2,2)$ và $(1,2,3)$, số đường đi lớn nhất ở tâm, nên các điểm ảnh ở giữa thường có ảnh hưởng lớn hơn (giống trường tiếp nhận hiệu dụng ở bài 01); với $(1,2,5)$, nó thay đổi theo từng sọc (1, 2 hoặc 4 đường đi) và không có đỉnh ở tâm.
#
# ## 5. Trọng số hợp lệ: tái tạo Hình 4 của DeepLabv3
#
# Khi hệ số giãn lớn so với bản đồ đặc trưng, nhiều điểm lấy mẫu rơi vào phần đệm 0 ở ngoài bản đồ: chúng không nhìn thấy gì. Gọi một trọng số là **hợp lệ** nếu điểm lấy mẫu của nó nằm trong bản đồ. Với bộ lọc $k\times k$ phần đệm "same", tại vị trí $(i, j)$ trên bản đồ $n \times n$, điểm lấy mẫu thứ $t$ theo hàng nằm ở $i + r\,(t - \tfrac{k-1}{2})$, nên
#
# $$\text{hợp lệ}(i, j) = \#\{t : 0 \le i + r(t - \tfrac{k-1}{2}) < n\} \times \#\{t : 0 \le j + r(t - \tfrac{k-1}{2}) < n\}.$$
#
# Chen và cộng sự (DeepLabv3, arXiv 1706.05587, Hình 4) vẽ, trên bản đồ $65 \times 65$ và bộ lọc $3\times3$, tỉ lệ vị trí có 1, 4 và 9 trọng số hợp lệ theo hệ số giãn. Khi hệ số giãn gần bằng kích thước bản đồ, bộ lọc $3\times 3$ thoái hoá thành bộ lọc $1 \times 1$: chỉ còn trọng số ở tâm.
#
# ### Bài tập 02-3 — Số trọng số hợp lệ tại một vị trí
#
# Viết `count_valid_taps(feature_size, kernel_size, rate, row, col)` theo công thức trên ($k$ lẻ).

# %% [markdown] lang="en"
# The table and figure above show it: $(2,2,2)$ has the same receptive field as $(1,2,3)$ but covers only a small part of it; $(1,2,3)$ and $(1,2,5)$ cover it fully, while $(1,2,9)$ does not although its rates share no factor. The colours show something the bounding box does not: the number of paths differs from pixel to pixel. For $(2,2,2)$ and $(1,2,3)$ it peaks at the centre, so central pixels tend to have more influence (as with the effective receptive field of lesson 01); for $(1,2,5)$ it varies in stripes (1, 2 or 4 paths), with no peak at the centre.
#
# ## 5. Valid weights: reproducing Fig. 4 of DeepLabv3
#
# When the rate is large compared with the feature map, many taps land in the zero padding outside the map: they see nothing. Call a weight **valid** when its tap lies inside the map. For a 'same'-padded $k\times k$ filter at position $(i, j)$ of an $n \times n$ map, the row tap $t$ sits at $i + r\,(t - \tfrac{k-1}{2})$, so
#
# $$\text{valid}(i, j) = \#\{t : 0 \le i + r(t - \tfrac{k-1}{2}) < n\} \times \#\{t : 0 \le j + r(t - \tfrac{k-1}{2}) < n\}.$$
#
# Chen et al. (DeepLabv3, arXiv 1706.05587, Fig. 4) plot, on a $65 \times 65$ map with a $3\times3$ filter, the fraction of positions with 1, 4 and 9 valid weights against the rate. When the rate approaches the size of the map, the $3\times 3$ filter degenerates into a $1 \times 1$ filter: only the centre weight is left.
#
# ### Exercise 02-3 — Valid weights at one position
#
# Write `count_valid_taps(feature_size, kernel_size, rate, row, col)` from the formula above (odd $k$).


# %%
def count_valid_taps(feature_size, kernel_size, rate, row, col):
    ### BEGIN SOLUTION
    half = (kernel_size - 1) // 2
    rows = sum(0 <= row + rate * (t - half) < feature_size for t in range(kernel_size))
    cols = sum(0 <= col + rate * (t - half) < feature_size for t in range(kernel_size))
    return rows * cols
    ### END SOLUTION


# %%
result = checks.check_count_valid_taps(count_valid_taps)

# %% [markdown] lang="vi"
# `dil.valid_weight_histogram(65, 3, rate)` đếm trên mọi vị trí và trả về `{số trọng số hợp lệ: tỉ lệ vị trí}`. Ta tính nó cho các hệ số giãn từ 1 đến 70 và vẽ ba đường như Hình 4.

# %% [markdown] lang="en"
# `dil.valid_weight_histogram(65, 3, rate)` counts over every position and returns `{number of valid weights: fraction of positions}`. We compute it for rates 1 to 70 and draw the three curves of Fig. 4.

# %%
# NBVAL_CHECK_OUTPUT
rates = list(range(1, 71))
histograms = [dil.valid_weight_histogram(65, 3, r) for r in rates]
curves = {n: [h.get(n, 0.0) for h in histograms] for n in (1, 4, 9)}
print(
    pd.DataFrame({"rate": rates, **{f"{n} valid": np.round(c, 3) for n, c in curves.items()}})
    .iloc[[0, 5, 11, 17, 23, 35, 47, 63]]
    .to_string(index=False)
)

# %%
fig, ax = plt.subplots(figsize=(5, 3))
for n, marker in zip((1, 4, 9), ("o", "s", "^")):
    ax.plot(
        rates, curves[n], marker=marker, markevery=6, ms=4, label=src.tr(f"{n} trọng số hợp lệ", f"{n} valid weight(s)")
    )
ax.set_xlabel(src.tr("hệ số giãn r", "atrous rate r"))
ax.set_ylabel(src.tr("tỉ lệ vị trí", "fraction of positions"))
ax.set_title(
    src.tr("Bộ lọc 3×3 trên bản đồ 65×65 (DeepLabv3, Hình 4)", "3×3 filter on a 65×65 map (DeepLabv3, Fig. 4)"),
    fontsize=9,
)
ax.legend(fontsize=8, loc="center right")
fig.tight_layout()

# %% [markdown] lang="vi"
# Đọc đồ thị: đường "9 trọng số hợp lệ" giảm dần rồi về 0, đường "1 trọng số hợp lệ" tăng vọt ở phía hệ số giãn lớn và chạm 1 khi $r \ge 65$ (ba điểm lấy mẫu theo mỗi trục không bao giờ cùng nằm trong bản đồ). Với hệ số giãn rất lớn, nhánh $3\times3$ của ASPP chỉ còn là một lớp $1\times1$ và **không còn thu được ngữ cảnh xa**. Đó là lý do DeepLabv3 thêm vào ASPP một nhánh đặc trưng mức ảnh (*image-level feature*): gộp trung bình toàn cục (*global average pooling*) bản đồ đặc trưng, qua một lớp $1\times1$, rồi phóng to lại, để mọi vị trí đều có ngữ cảnh của toàn ảnh (bài 03).
#
# ## 6. Tỉ lệ giảm kích thước đầu ra (*output stride*) và cái giá của nó
#
# Output stride (OS) là tỉ số giữa kích thước ảnh đầu vào và kích thước bản đồ đặc trưng cuối cùng. ResNet gốc có OS = 32: ảnh $512\times512$ chỉ còn bản đồ $16\times16$, quá thô để vẽ biên trong phân vùng ngữ nghĩa (*semantic segmentation*). DeepLab giữ độ phân giải bằng cách **bỏ bước trượt** của các tầng cuối và bù lại bằng hệ số giãn, để mỗi lớp vẫn nhìn thấy cùng một vùng của ảnh như trước (và dùng được trọng số đã huấn luyện trước). Trong torchvision, `replace_stride_with_dilation=[False, False, True]` làm điều này cho `layer4` (OS = 16) và `[False, True, True]` cho cả `layer3`, `layer4` (OS = 8).
#
# Cái giá: các tầng sau có bản đồ lớn gấp 4 (OS 16) hoặc 16 lần (`layer4` ở OS 8) về số điểm ảnh, trong khi số kênh vẫn lớn (1024, 2048). Ô dưới dựng ResNet-50 (`weights=None`, không tải gì) ở OS 32 / 16 / 8 và đo trên **một** ảnh $512 \times 512$: kích thước bản đồ đặc trưng, FLOPs (một phép nhân-cộng tính là 2), bộ nhớ kích hoạt đỉnh (không tính tham số và đầu vào) và độ trễ trên CPU của một lần chạy suy luận (*inference*), đo một lần duy nhất sau một lần chạy khởi động cho nhanh (bộ đo `benchmarks/bench_output_stride.py` đo nhiều lần hơn). Ô này chạy mất một lúc.

# %% [markdown] lang="en"
# Reading the plot: the "9 valid weights" curve falls to 0, the "1 valid weight" curve shoots up at large rates and reaches 1 once $r \ge 65$ (the three taps along an axis are never inside the map together). At very large rates an ASPP $3\times3$ branch is just a $1\times1$ layer and **no longer captures long-range context**. That is why DeepLabv3 adds an image-level feature branch to ASPP: global average pooling of the feature map, a $1\times1$ layer, then upsampling back, so that every position gets the context of the whole image (lesson 03).
#
# ## 6. Output stride and its price
#
# The output stride (OS) is the ratio of the input size to the size of the last feature map. A plain ResNet has OS = 32: a $512\times512$ image becomes a $16\times16$ map, too coarse to draw boundaries in semantic segmentation. DeepLab keeps the resolution by **removing the strides** of the last stages and compensating with dilation, so that each layer still sees the same region of the image as before (and pretrained weights still apply). In torchvision, `replace_stride_with_dilation=[False, False, True]` does it for `layer4` (OS = 16) and `[False, True, True]` for both `layer3` and `layer4` (OS = 8).
#
# The price: the later stages work on maps with 4 times (OS 16) or 16 times (`layer4` at OS 8) more pixels, while their channel counts stay large (1024, 2048). The cell below builds a ResNet-50 (`weights=None`, nothing downloaded) at OS 32 / 16 / 8 and measures on **one** $512 \times 512$ image: feature-map size, FLOPs (a multiply-add counts as 2), peak activation memory (parameters and input excluded) and CPU latency of one inference pass (after one warm-up pass, measured once to stay fast; `benchmarks/bench_output_stride.py` repeats more). This cell takes a while.

# %%
costs = pd.DataFrame(dil.output_stride_costs(output_strides=(32, 16, 8), input_size=512, depth=50, repeats=1, warmup=1))
costs["feature_map"] = [f"{c}×{s}×{s}" for c, s in zip(costs.channels, costs.feature_size)]
costs["GFLOPs"] = costs.flops / 1e9
costs["memory_MiB"] = costs.peak_memory / 2**20
for col in ("flops", "peak_memory", "latency"):
    costs[f"{col}_vs_OS32"] = costs[col] / costs[col].iloc[0]
costs[
    [
        "output_stride",
        "feature_map",
        "params",
        "GFLOPs",
        "memory_MiB",
        "latency",
        "flops_vs_OS32",
        "peak_memory_vs_OS32",
        "latency_vs_OS32",
    ]
].round(2)

# %%
fig, ax = plt.subplots(figsize=(5.5, 3))
labels = [src.tr("FLOPs", "FLOPs"), src.tr("bộ nhớ đỉnh", "peak memory"), src.tr("độ trễ CPU", "CPU latency")]
for i, os_ in enumerate(costs.output_stride):
    values = [costs[f"{c}_vs_OS32"].iloc[i] for c in ("flops", "peak_memory", "latency")]
    ax.bar(np.arange(3) + (i - 1) * 0.27, values, width=0.27, label=f"OS {os_}")
ax.set_xticks(np.arange(3), labels)
ax.set_ylabel(src.tr("so với OS 32 (lần)", "relative to OS 32 (×)"))
ax.set_title(src.tr("ResNet-50, ảnh 512×512", "ResNet-50, 512×512 input"), fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown] lang="vi"
# Đọc bảng và đồ thị trên: số tham số (`params`) như nhau ở cả ba mức (tích chập giãn không thêm trọng số), nhưng FLOPs tăng ở mỗi bước giảm OS, vì `layer3` và `layer4` (phần nặng nhất của ResNet-50) chạy trên bản đồ lớn hơn. Bộ nhớ đỉnh khi suy luận thì khác: hãy so cột `memory_MiB` giữa OS 32 và OS 16. Khi suy luận, một tensor được giải phóng ngay khi lớp sau đã dùng xong, nên bộ nhớ đỉnh nằm ở nơi có các tensor lớn nhất cùng tồn tại. Ô dưới tính (trên thiết bị `meta`, tức thì) kích thước đầu ra của từng tầng để xem đỉnh đó nằm ở đâu.
#
# Độ trễ chỉ đo một lần trên CPU dùng chung nên dao động; hãy xem nó như một chỉ dấu, con số ổn định hơn nằm trong `benchmarks/bench_output_stride.py`.

# %% [markdown] lang="en"
# Reading the table and plot above: the parameter count (`params`) is the same at all three levels (dilation adds no weights), but FLOPs grow at each step down in OS, because `layer3` and `layer4` (the heaviest part of ResNet-50) run on larger maps. Inference peak memory behaves differently: compare the `memory_MiB` column at OS 32 and OS 16. During inference a tensor is freed as soon as the next layer has used it, so the peak sits where the largest tensors are alive together. The cell below computes (on the `meta` device, instantly) the output size of each stage to see where that peak is.
#
# Latency is measured only once on a shared CPU, so it fluctuates; take it as an indication, `benchmarks/bench_output_stride.py` gives steadier numbers.

# %%
# NBVAL_CHECK_OUTPUT
names = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
stage_mib = {}
for os_ in (32, 16, 8):
    with torch.device("meta"):  # shapes only
        h, sizes = torch.empty(1, 3, 512, 512), {}
        for name, layer in zip(names, dil.resnet_backbone(os_, 50)):
            h = layer(h)
            sizes[name] = f"{h.shape[1]}×{h.shape[2]}×{h.shape[3]} = {h.numel() * 4 / 2**20:.0f} MiB"
    stage_mib[f"OS {os_}"] = sizes
print(pd.DataFrame(stage_mib).loc[["conv1", "layer1", "layer2", "layer3", "layer4"]].to_string())

# %% [markdown] lang="vi"
# Ở OS 32 và OS 16, tensor lớn nhất là đầu ra của `conv1` và `layer1` (độ phân giải 1/2 và 1/4 của ảnh), giống hệt nhau ở hai mức, nên bộ nhớ đỉnh khi suy luận không đổi. Chỉ ở OS 8, đầu ra của `layer3` mới bằng và của `layer4` mới vượt chúng. Khi **huấn luyện** thì khác: mọi kích hoạt phải được giữ lại cho lan truyền ngược (*backward pass*), nên bộ nhớ đi theo tổng kích thước của mọi tầng chứ không theo tầng lớn nhất; cột `train MiB` của bộ đo `benchmarks/bench_output_stride.py` đo điều này.
#
# DeepLabv3 dùng đúng sự đánh đổi này: huấn luyện ở OS 16 (rẻ hơn) và chỉ chuyển sang OS 8 khi suy luận để lấy thêm độ chính xác; bài báo ghi nhận mIoU trên tập kiểm định PASCAL VOC 2012 tăng từ 77,21% (OS 16) lên 78,51% (OS 8), khi chưa dùng đầu vào đa tỉ lệ và lật ảnh (bảng về chiến lược suy luận của arXiv 1706.05587).

# %% [markdown] lang="en"
# In the first two columns (OS 32 and OS 16) the largest tensors are the outputs of `conv1` and `layer1` (1/2 and 1/4 of the image resolution), identical at both levels, so inference peak memory does not change. Only at OS 8 does `layer3`'s output match them and `layer4`'s exceed them. **Training** is different: every activation is kept for the backward pass, so memory follows the sum over all stages rather than the largest one; the benchmark's `train MiB` column measures it.
#
# DeepLabv3 uses exactly this trade-off: it trains at OS 16 (cheaper) and switches to OS 8 only at inference for extra accuracy; the paper reports PASCAL VOC 2012 val mIoU going from 77.21% (OS 16) to 78.51% (OS 8), before multi-scale inputs and flipping are added (the inference-strategy table of arXiv 1706.05587).

# %% [markdown] lang="vi"
# ## 7. Đa lưới (*multi-grid*)
#
# Trong `layer4` của ResNet-50 có ba khối, mỗi khối một lớp $3\times3$. DeepLabv3 (mục 3.2) dùng cho ba lớp này các hệ số giãn "đơn vị" $(r_1, r_2, r_3)$, ví dụ $(1, 2, 4)$, nhân với hệ số giãn của tầng: ở OS 16 tầng có hệ số 2 nên ba lớp có hệ số $2 \cdot (1, 2, 4) = (2, 4, 8)$. Torchvision mặc định cho khối đầu hệ số của tầng trước, nên `layer4` ở OS 16 có $(1, 2, 2)$. `dil.resnet_backbone(..., multi_grid=(1, 2, 4))` đặt lại các hệ số này. Ô dưới dựng mạng trên thiết bị `meta` (chỉ có hình dạng tensor, không có dữ liệu) nên chạy tức thì, và so sánh: hệ số giãn, trường tiếp nhận của riêng `layer4` (tính theo điểm của bản đồ đặc trưng), độ phủ, và FLOPs.

# %% [markdown] lang="en"
# ## 7. Multi-grid
#
# ResNet-50's `layer4` has three blocks, each with one $3\times3$ layer. DeepLabv3 (Section 3.2) gives these three layers "unit" rates $(r_1, r_2, r_3)$, e.g. $(1, 2, 4)$, multiplied by the stage's rate: at OS 16 the stage rate is 2, so the three layers get $2 \cdot (1, 2, 4) = (2, 4, 8)$. Torchvision by default gives the first block the previous stage's rate, so `layer4` at OS 16 has $(1, 2, 2)$. `dil.resnet_backbone(..., multi_grid=(1, 2, 4))` resets these rates. The cell below builds the networks on the `meta` device (tensor shapes only, no data), so it runs instantly, and compares: rates, the receptive field of `layer4` alone (in feature-map pixels), its coverage, and FLOPs.

# %%
# NBVAL_CHECK_OUTPUT
from src.profiling import count_flops

rows = []
for os_ in (16, 8):
    for grid in (None, (1, 2, 4)):
        with torch.device("meta"):  # shapes only: instant, no memory
            body = dil.resnet_backbone(os_, 50, multi_grid=grid)
            flops = count_flops(body, torch.empty(1, 3, 512, 512))
        r = [blk.conv2.dilation[0] for blk in body[-1]]
        rows.append(
            {
                "OS": os_,
                "multi_grid": str(grid),
                "layer4 rates": str(tuple(r)),
                "RF layer4": 1 + 2 * sum(r),
                "coverage layer4": round(dil.gridding_coverage(r), 3),
                "coverage after last stride": round(dil.gridding_coverage(dil.rates_after_last_stride(body)), 3),
                "GFLOPs": round(flops / 1e9, 2),
            }
        )
print(pd.DataFrame(rows).to_string(index=False))

# %% [markdown] lang="vi"
# Bảng trên cho thấy ba điều. (1) Đa lưới mở rộng trường tiếp nhận của `layer4` mà FLOPs không đổi: chỉ vị trí các điểm lấy mẫu thay đổi, số phép nhân thì không. (2) Khi các hệ số giãn của `layer4` có ước chung (ví dụ $(2, 4, 8)$), riêng `layer4` bị hiện tượng lưới (cột "coverage layer4"), đúng như quy tắc HDC dự đoán; điều này đúng cả với cấu hình mặc định của torchvision ở OS 8. (3) Nhưng trong mạng thật, trước `layer4` còn các lớp $3\times3$ hệ số nhỏ chạy ở cùng độ phân giải (ở OS 16: năm lớp hệ số 1 của `layer3`; ở OS 8: các lớp của `layer2` và khối đầu của `layer3`). Cột cuối tính độ phủ của **mọi** lớp $3\times3$ sau lớp có bước trượt cuối cùng (`dil.rates_after_last_stride`): các lớp hệ số nhỏ đó lấp kín lỗ. Vì vậy, với các cấu hình trong bảng, đa lưới không để lại lỗ trong ResNet; với các chồng lớp toàn hệ số giãn lớn (như mô-đun ngữ cảnh của Yu và Koltun) thì cần chọn hệ số cẩn thận hơn.

# %% [markdown] lang="en"
# The table above shows three things. (1) Multi-grid enlarges `layer4`'s receptive field at unchanged FLOPs: only where the taps sit changes, not how many multiplications there are. (2) When `layer4`'s rates share a factor (e.g. $(2, 4, 8)$), `layer4` on its own grids (column "coverage layer4"), exactly as the HDC rule predicts; this is also true of torchvision's default configuration at OS 8. (3) But in the real network, $3\times3$ layers with small rates run at the same resolution before `layer4` (at OS 16: the five rate-1 layers of `layer3`; at OS 8: the layers of `layer2` and the first block of `layer3`). The last column computes the coverage of **all** $3\times3$ layers after the last strided layer (`dil.rates_after_last_stride`): those small-rate layers fill the holes. So, for the configurations in the table, multi-grid leaves no holes inside a ResNet; stacks made only of large rates (like the context module of Yu & Koltun) need their rates chosen with more care.

# %% [markdown] lang="vi"
# ## Ghi nhớ
#
# - Tích chập giãn với hệ số $r$ đặt $r-1$ số 0 giữa các trọng số: nhân hiệu dụng $r(k-1)+1$, cùng số tham số và cùng số phép nhân. Kích thước đầu ra: $\lfloor (n + 2p - r(k-1) - 1)/s \rfloor + 1$; phần đệm "same" là $r(k-1)/2$.
# - Có thể cài đặt bằng nhân chèn số 0 (dễ hiểu, tốn phép nhân với 0) hoặc bằng cách gom điểm lấy mẫu với `unfold` (đúng $k^2$ phép nhân mỗi điểm); cả hai trùng khớp với `conv2d(dilation=r)`.
# - Chồng nhiều lớp cùng hệ số giãn gây hiện tượng lưới; chọn hệ số không có ước chung và không để khoảng trống rộng hơn nhân (HDC, ví dụ $(1,2,3)$), hoặc đặt lớp hệ số 1 phía trước để lấp lỗ.
# - Hệ số giãn lớn so với bản đồ làm bộ lọc $3\times3$ thoái hoá thành $1\times1$ (Hình 4 của DeepLabv3), nên DeepLabv3 thêm đặc trưng mức ảnh.
# - Giảm output stride từ 32 xuống 16 rồi 8 giữ được chi tiết nhưng FLOPs tăng ở mỗi bước, mạnh nhất ở OS 8; bộ nhớ đỉnh khi suy luận chỉ tăng khi các tầng cuối trở thành tensor lớn nhất (OS 8), còn khi huấn luyện thì tăng theo tổng các tầng (xem các bảng ở mục 6). DeepLabv3 huấn luyện ở OS 16, suy luận ở OS 8.
# - Đa lưới $(1,2,4)$ mở rộng trường tiếp nhận của `layer4` mà không tốn thêm phép tính; các lớp hệ số nhỏ phía trước lấp các lỗ lưới.
#
# ## Tài liệu tham khảo
#
# - M. Holschneider, R. Kronland-Martinet, J. Morlet, Ph. Tchamitchian, "A real-time algorithm for signal analysis with the help of the wavelet transform", 1989 (thuật toán *à trous*).
# - F. Yu, V. Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", arXiv 1511.07122.
# - L.-C. Chen và cộng sự, "Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs" (DeepLab v1), arXiv 1412.7062.
# - L.-C. Chen và cộng sự, "DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, Atrous Convolution, and Fully Connected CRFs", arXiv 1606.00915.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam, "Rethinking Atrous Convolution for Semantic Image Segmentation" (DeepLabv3), arXiv 1706.05587.
# - P. Wang và cộng sự, "Understanding Convolution for Semantic Segmentation" (HDC), arXiv 1702.08502.
# - V. Dumoulin, F. Visin, "A guide to convolution arithmetic for deep learning", arXiv 1603.07285.
# - K. He và cộng sự, "Deep Residual Learning for Image Recognition" (ResNet), arXiv 1512.03385.

# %% [markdown] lang="en"
# ## Key takeaways
#
# - Dilated convolution with rate $r$ puts $r-1$ zeros between the weights: effective kernel $r(k-1)+1$, same parameters, same number of multiplications. Output size: $\lfloor (n + 2p - r(k-1) - 1)/s \rfloor + 1$; 'same' padding is $r(k-1)/2$.
# - It can be implemented with a zero-inserted kernel (easy, wastes multiplications by zero) or by gathering the taps with `unfold` (exactly $k^2$ multiplications per output); both match `conv2d(dilation=r)`.
# - Stacking layers with the same rate causes gridding; choose rates without a common factor and without gaps wider than the kernel (HDC, e.g. $(1,2,3)$), or put rate-1 layers in front to fill the holes.
# - Rates that are large compared with the map turn a $3\times3$ filter into a $1\times1$ one (DeepLabv3 Fig. 4), which is why DeepLabv3 adds an image-level feature.
# - Lowering the output stride from 32 to 16 to 8 keeps detail, but FLOPs grow at each step, most at OS 8; inference peak memory only grows once the last stages hold the largest tensors (OS 8), while training memory follows the sum over all stages (see the tables in section 6). DeepLabv3 trains at OS 16 and infers at OS 8.
# - Multi-grid $(1,2,4)$ enlarges `layer4`'s receptive field at no extra computation; the small-rate layers before it fill the grid's holes.
#
# ## References
#
# - M. Holschneider, R. Kronland-Martinet, J. Morlet, Ph. Tchamitchian, "A real-time algorithm for signal analysis with the help of the wavelet transform", 1989 (the *à trous* algorithm).
# - F. Yu, V. Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", arXiv 1511.07122.
# - L.-C. Chen et al., "Semantic Image Segmentation with Deep Convolutional Nets and Fully Connected CRFs" (DeepLab v1), arXiv 1412.7062.
# - L.-C. Chen et al., "DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, Atrous Convolution, and Fully Connected CRFs", arXiv 1606.00915.
# - L.-C. Chen, G. Papandreou, F. Schroff, H. Adam, "Rethinking Atrous Convolution for Semantic Image Segmentation" (DeepLabv3), arXiv 1706.05587.
# - P. Wang et al., "Understanding Convolution for Semantic Segmentation" (HDC), arXiv 1702.08502.
# - V. Dumoulin, F. Visin, "A guide to convolution arithmetic for deep learning", arXiv 1603.07285.
# - K. He et al., "Deep Residual Learning for Image Recognition" (ResNet), arXiv 1512.03385.
